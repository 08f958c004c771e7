"""Tests of kotosim.model (light-scalar physics) and kotosim.model_cli.

Reference numbers are computed here by explicit arithmetic from the formulas of
/work/shared/physics/inputs.md section 1 and the seed talk (slides 19, 32, 37), not by calling
the function under test.  Units: MeV, mm, ns.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from kotosim import model as mdl
from kotosim.constants import (
    ALPHA_EM,
    M_BOTTOM,
    M_CHARM,
    M_DOWN,
    M_E,
    M_KL,
    M_KPLUS,
    M_MU,
    M_PI0,
    M_PIPLUS,
    M_STRANGE,
    M_TAU,
    M_TOP,
    M_UP,
    M_W,
    V_HIGGS,
)
from kotosim.model import ScalarModel

# --------------------------------------------------------------------------------------------
# loop functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [1e-9, 1e-6, 1e-4])
def test_loop_function_small_tau_limits(tau):
    assert mdl.a_half(tau) == pytest.approx(4.0 / 3.0, rel=1e-3)
    assert mdl.a_one(tau) == pytest.approx(-7.0, rel=1e-3)


def test_loop_function_series_matches_closed_form():
    # on both sides of the series/closed-form switch at tau = 1e-3
    for tau in (0.9e-3, 1.1e-3, 5e-3):
        f = math.asin(math.sqrt(tau)) ** 2
        half = 2.0 * (tau + (tau - 1.0) * f) / tau**2
        one = -(2.0 * tau**2 + 3.0 * tau + 3.0 * (2.0 * tau - 1.0) * f) / tau**2
        assert mdl.a_half(tau).real == pytest.approx(half, rel=1e-9)
        assert mdl.a_one(tau).real == pytest.approx(one, rel=1e-9)


def test_loop_functions_continuous_at_tau_one():
    assert mdl.loop_f(1.0) == pytest.approx(math.pi**2 / 4.0)
    d = 1e-10  # f(1 + d) - f(1) ~ i pi sqrt(d): continuous but not differentiable at tau = 1
    for fn in (mdl.loop_f, mdl.a_half, mdl.a_one):
        assert abs(fn(1.0 - d) - fn(1.0 + d)) < 1e-3
    # A_1/2(1) = 2 [1 + 0] = 2 exactly; A_1(1) = -(5 + 3 pi^2/4)
    assert mdl.a_half(1.0) == pytest.approx(2.0)
    assert mdl.a_one(1.0) == pytest.approx(-(5.0 + 3.0 * math.pi**2 / 4.0))


def test_loop_functions_large_tau():
    # tau -> infinity: A_1/2 -> 0, A_1 -> -2, f(tau) acquires the imaginary part i pi ln(4 tau)/2
    assert abs(mdl.a_half(1e8)) < 1e-5
    assert mdl.a_one(1e8) == pytest.approx(-2.0, abs=1e-5)
    tau = 1e6
    assert mdl.loop_f(tau).imag == pytest.approx(math.pi / 2 * math.log(4 * tau), rel=1e-6)


# --------------------------------------------------------------------------------------------
# decay widths
# --------------------------------------------------------------------------------------------


def test_width_ee_hand_number_and_ctau():
    # Higgs mixing, sin(theta) = 1, m = 100 MeV: Gamma_ee = m_e^2 m beta^3 / (8 pi v^2)
    m_e, m, v = 0.51099895069, 100.0, 246.22e3
    beta = math.sqrt(1.0 - 4.0 * m_e**2 / m**2)
    gamma_ee = m_e**2 * m * beta**3 / (8.0 * math.pi * v**2)  # = 4.3e-12 MeV
    mod = ScalarModel.higgs_mixing(100.0, 1.0)
    assert mod.width_ee == pytest.approx(gamma_ee, rel=1e-9)
    # gamma gamma is ~2e-4 of the total here, so c tau = hbar c / Gamma_ee to 0.1%
    hbarc_mev_mm = 197.3269804e-12  # MeV mm (CODATA: 197.3269804 MeV fm)
    assert mod.ctau == pytest.approx(hbarc_mev_mm / gamma_ee, rel=1e-3)
    assert mod.tau == pytest.approx(mod.ctau / 299.792458, rel=1e-9)  # c = 299.79 mm/ns


def test_widths_vanish_at_thresholds():
    below = ScalarModel(2.0 * M_E * (1 - 1e-9), 1.0, 1.0)
    just = ScalarModel(2.0 * M_E * (1 + 1e-6), 1.0, 1.0)
    assert below.width_ee == 0.0
    assert 0.0 < just.width_ee < 1e-8 * ScalarModel(10.0, 1.0, 1.0).width_ee
    assert ScalarModel(2.0 * M_MU, 1.0, 1.0).width_mumu == 0.0
    assert ScalarModel(2.0 * M_MU + 1e-6, 1.0, 1.0).width_mumu > 0.0
    # between 2 m_pi0 and 2 m_pi+ only pi0 pi0 is open
    mid = ScalarModel(M_PI0 + M_PIPLUS, 1.0, 1.0)
    assert mid.width_pi0pi0 > 0.0 and mid.width_pipluspiminus == 0.0
    assert ScalarModel(2.0 * M_PI0, 1.0, 1.0).width_pipi == 0.0
    assert ScalarModel(2.0 * M_PIPLUS, 1.0, 1.0).width_pipluspiminus == 0.0
    near = ScalarModel(2.0 * M_PIPLUS * (1 + 1e-10), 1.0, 1.0)
    assert 0.0 < near.width_pipluspiminus < 1e-3 * near.width_pi0pi0


def test_pipi_chiral_hand_number_and_isospin_split():
    m, v = 300.0, 246.22e3
    expected = 0.0
    for m_pi, frac in ((M_PIPLUS, 2.0 / 3.0), (M_PI0, 1.0 / 3.0)):
        beta = math.sqrt(1.0 - 4.0 * m_pi**2 / m**2)
        expected += frac * 3.0 * beta * (2 * m**2 / 9 + 11 * m_pi**2 / 9) ** 2 / (
            32.0 * math.pi * v**2 * m)
    mod = ScalarModel(m, 1.0, 1.0)
    assert mod.width_pipi == pytest.approx(expected, rel=1e-12)
    # away from threshold the split tends to 2:1
    heavy = ScalarModel(900.0, 1.0, 1.0)
    assert heavy.width_pipluspiminus / heavy.width_pi0pi0 == pytest.approx(2.0, rel=0.02)


def test_pipi_dispersive_ratio_matches_inputs_statement():
    # inputs.md: Winkler's dispersive width is 2.4-3.6 x the chiral one at 0.30-0.40 GeV
    for m, lo, hi in ((300.0, 2.3, 2.5), (400.0, 3.5, 3.7)):
        r = (ScalarModel(m, 1.0, 1.0, pipi="dispersive").width_pipi
             / ScalarModel(m, 1.0, 1.0).width_pipi)
        assert lo < r < hi


def test_widths_scale_as_eps_squared():
    a = ScalarModel(150.0, 0.3, 0.7)
    b = ScalarModel(150.0, 0.6, 1.4)
    assert b.width_ee == pytest.approx(4.0 * a.width_ee, rel=1e-12)
    assert b.width_gammagamma == pytest.approx(4.0 * a.width_gammagamma, rel=1e-12)
    c = ScalarModel(320.0, 0.2, 0.5)
    d = ScalarModel(320.0, 0.6, 0.5)
    assert d.width_pipi == pytest.approx(9.0 * c.width_pipi, rel=1e-12)
    assert d.width_mumu == pytest.approx(c.width_mumu, rel=1e-12)
    # c tau ~ 1 / eps^2 when all couplings scale together
    assert b.ctau == pytest.approx(a.ctau / 4.0, rel=1e-12)


def test_gammagamma_inputs_and_slide37_normalisations_agree():
    # seed slide 37: alpha^2 m^3/(1024 pi^3)
    #                |sum_q 6 eps_q Q^2 A/v + sum_l 2 eps_l A/v + 2 eps_W A_1/v|^2
    m, eq, el = 120.0, 0.3, -0.8
    t = lambda mm: m**2 / (4 * mm**2)  # noqa: E731
    quarks = ((M_UP, 2 / 3), (M_DOWN, -1 / 3), (M_STRANGE, -1 / 3), (M_CHARM, 2 / 3),
              (M_BOTTOM, -1 / 3), (M_TOP, 2 / 3))
    amp = sum(6 * eq * q**2 * mdl.a_half(t(mq)) / V_HIGGS for mq, q in quarks)
    amp += sum(2 * el * mdl.a_half(t(ml)) / V_HIGGS for ml in (M_E, M_MU, M_TAU))
    amp += 2 * eq * mdl.a_one(t(M_W)) / V_HIGGS
    slide37 = ALPHA_EM**2 * m**3 / (1024 * math.pi**3) * abs(amp) ** 2
    assert ScalarModel(m, eq, el).width_gammagamma == pytest.approx(slide37, rel=1e-12)


def test_gammagamma_options_and_branching_ratios_sum():
    hm = {o: ScalarModel.higgs_mixing(60.0, 1.0, gamma_gamma_hadrons=o).width_gammagamma
          for o in ("quarks", "none", "constituent")}
    # constituent light quarks add ~ 8/3 to an amplitude of O(0.3): much larger width
    assert hm["constituent"] > 10 * hm["quarks"]
    br = ScalarModel(300.0, 0.1, 0.5).branching_ratios
    assert br["ee"] + br["mumu"] + br["gammagamma"] + br["pipi"] == pytest.approx(1.0)
    assert br["pipi"] == pytest.approx(br["pi+pi-"] + br["pi0pi0"])


# --------------------------------------------------------------------------------------------
# g - 2
# --------------------------------------------------------------------------------------------


def test_g2_heavy_scalar_limit():
    g = 1e-3
    for m_phi, m_l in ((5000.0, M_MU), (200.0, M_E)):
        r2 = (m_phi / m_l) ** 2
        analytic = g**2 / (8 * math.pi**2) / r2 * (math.log(r2) - 7.0 / 6.0)
        numeric = g**2 / (8 * math.pi**2) * mdl.g2_loop_integral(m_phi / m_l)
        assert numeric == pytest.approx(analytic, rel=2e-3)


def test_g2_light_scalar_limit_and_model():
    assert mdl.g2_loop_integral(1e-4) == pytest.approx(1.5, rel=1e-3)
    # ScalarModel uses g = eps_l m_mu / v: check against 3 g^2/(16 pi^2) for m_phi << m_mu
    eps_l = 2.0
    g = eps_l * 105.6583755 / 246.22e3
    assert ScalarModel(0.01, 0.0, eps_l).delta_a_mu == pytest.approx(
        3 * g**2 / (16 * math.pi**2), rel=1e-3)
    # r = 1: I = int (1-x)^2 (1+x) / (1 - x + x^2) dx, by Simpson on 20001 points
    x = np.linspace(0.0, 1.0, 20001)
    y = (1 - x) ** 2 * (1 + x) / (1 - x + x * x)
    simpson = (x[1] - x[0]) / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())
    assert mdl.g2_loop_integral(1.0) == pytest.approx(simpson, rel=1e-8)


def test_g2_solver_round_trip():
    eps_l = mdl.eps_l_for_delta_a_mu(50.0)
    assert 0.8 < eps_l < 1.6  # seed: eps_l ~ 1 at m_phi ~ 50 MeV
    assert ScalarModel(50.0, 0.01, eps_l).delta_a_mu == pytest.approx(27.4e-10, rel=1e-9)
    assert mdl.eps_l_for_delta_a_mu(80.0, 1e-9) ** 2 * ScalarModel(80.0, 0.0, 1.0).delta_a_mu \
        == pytest.approx(1e-9, rel=1e-9)


# --------------------------------------------------------------------------------------------
# production
# --------------------------------------------------------------------------------------------


def _wolfenstein_kaon_sum() -> complex:
    """sum_q m_q^2 V*_qd V_qs, CKM expanded to O(lambda^5) (Buras, Lautenbacher, Ostermaier,
    hep-ph/9403384 eqs. 2.17-2.19), PDG 2024 fit lambda, A, rhobar, etabar."""
    lam, a, rhob, etab = 0.22501, 0.826, 0.1591, 0.3523
    rho, eta = rhob / (1 - lam**2 / 2), etab / (1 - lam**2 / 2)
    v_td = a * lam**3 * complex(1 - rhob, -etab)
    v_ts = -a * lam**2 + a * lam**4 * complex(0.5 - rho, -eta)
    v_cd = -lam + a**2 * lam**5 * complex(1 - 2 * rho, -2 * eta) / 2
    v_cs = 1 - lam**2 / 2 - lam**4 * (1 + 4 * a**2) / 8
    m_t, m_c = 172.6e3, 1273.0
    return m_t**2 * v_td.conjugate() * v_ts + m_c**2 * v_cd * v_cs


def test_k_to_pi_phi_hand_numbers_at_zero_mass():
    s = _wolfenstein_kaon_sum()
    v = 246.22e3
    hbar = 6.582119569e-22  # MeV s (CODATA)
    # K_L: (Re g)^2 lambda^(1/2)/(16 pi m_K^3); lambda^(1/2) = m_K^2 - m_pi^2 at m_phi = 0
    m_k, m_pi, tau_kl = 497.611, 134.9768, 5.116e-8  # MeV, MeV, s (PDG)
    g = 3 * m_k**2 * s / (32 * math.pi**2 * v**3)
    br_kl = g.real**2 * (m_k**2 - m_pi**2) / (16 * math.pi * m_k**3) / (hbar / tau_kl)
    assert mdl.br_kl_pi0phi(0.0) == pytest.approx(br_kl, rel=0.01)
    m_k, m_pi, tau_kp = 493.677, 139.57039, 1.2380e-8
    g = 3 * m_k**2 * s / (32 * math.pi**2 * v**3)
    br_kp = abs(g) ** 2 * (m_k**2 - m_pi**2) / (16 * math.pi * m_k**3) / (hbar / tau_kp)
    assert mdl.br_kplus_piplusphi(0.0) == pytest.approx(br_kp, rel=0.01)


def test_k_to_pi_phi_thresholds_scaling_and_options():
    thr = M_KL - M_PI0
    assert mdl.br_kl_pi0phi(thr) == 0.0
    assert mdl.br_kl_pi0phi(thr + 1.0) == 0.0
    assert 0.0 < mdl.br_kl_pi0phi(thr - 1e-3) < 1e-2 * mdl.br_kl_pi0phi(0.0)
    assert mdl.br_kplus_piplusphi(M_KPLUS - M_PIPLUS) == 0.0
    assert mdl.br_kl_pi0phi(100.0, 0.02) == pytest.approx(4e-4 * mdl.br_kl_pi0phi(100.0, 1.0))
    assert ScalarModel(100.0, 0.02, 1.0).br_kl_pi0phi == pytest.approx(
        mdl.br_kl_pi0phi(100.0, 0.02))
    seed = mdl.br_kl_pi0phi(100.0)
    f0 = mdl.br_kl_pi0phi(100.0, 1.0, "f0")
    assert f0 / seed == pytest.approx(((M_KL**2 - M_PI0**2) * 0.96 / M_KL**2) ** 2, rel=1e-12)
    assert mdl.br_kl_pi0phi(100.0, 1.0, "abs_lambda_t") > seed
    assert mdl.br_kl_pi0phi(100.0, 1.0, "im_lambda_t") < seed / 4


def test_b_decays():
    assert mdl.br_b_kphi(5000.0) == 0.0
    assert mdl.br_b0_kstar0phi(4400.0) == 0.0
    # O(0.5) eps_q^2 for light phi (inputs.md formulas; e.g. arXiv:1809.01876 finds ~0.5)
    assert 0.2 < mdl.br_b_kphi(50.0) < 1.0
    assert 0.2 < mdl.br_b0_kstar0phi(50.0) < 1.0
    assert mdl.br_b0_kstar0phi(50.0, 0.01) == pytest.approx(1e-4 * mdl.br_b0_kstar0phi(50.0))


def test_ckm_unitary_and_pdg_magnitudes():
    v = mdl.ckm_matrix()
    assert np.allclose(v @ v.conj().T, np.eye(3), atol=1e-14)
    assert abs(v[0, 1]) == pytest.approx(0.22501, rel=1e-4)  # |V_us| = lambda
    assert abs(v[1, 2]) == pytest.approx(0.826 * 0.22501**2, rel=1e-3)  # |V_cb| = A lambda^2
    assert abs(v[2, 0]) == pytest.approx(0.00858, rel=0.02)  # PDG 2024: |V_td| = 0.00858


def test_br_kl_solver_round_trip():
    for norm in ("seed", "f0"):
        eps_q = mdl.eps_q_for_br_kl(150.0, 2.1e-9, k_to_pi_norm=norm)
        assert ScalarModel(150.0, eps_q, 1.0, k_to_pi_norm=norm).br_kl_pi0phi == pytest.approx(
            2.1e-9, rel=1e-12)


def test_scan_table():
    tab = mdl.scan_table([50.0, 300.0], 0.01, 1.0, with_g2=False)
    assert tab.shape == (2,)
    assert tab["br_ee"][0] > 0.9 and tab["br_pipi"][1] > 0.0
    assert tab["ctau"][0] == pytest.approx(ScalarModel(50.0, 0.01, 1.0).ctau)
    assert np.isnan(tab["delta_a_mu"]).all()


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"mass": -1.0, "eps_q": 1.0, "eps_l": 1.0}, "mass"),
    ({"mass": 0.0, "eps_q": 1.0, "eps_l": 1.0}, "mass"),
    ({"mass": 1000.0, "eps_q": 1.0, "eps_l": 1.0}, "mass"),
    ({"mass": float("nan"), "eps_q": 1.0, "eps_l": 1.0}, "mass"),
    ({"mass": 50.0, "eps_q": float("inf"), "eps_l": 1.0}, "eps_q"),
    ({"mass": 50.0, "eps_q": 0.0, "eps_l": 0.0}, "eps_q"),
    ({"mass": 50.0, "eps_q": 1.0, "eps_l": 1.0, "pipi": "nlo"}, "pipi"),
    ({"mass": 50.0, "eps_q": 1.0, "eps_l": 1.0, "k_to_pi_norm": "x"}, "k_to_pi_norm"),
    ({"mass": 50.0, "eps_q": 1.0, "eps_l": 1.0, "gamma_gamma_hadrons": "x"},
     "gamma_gamma_hadrons"),
])
def test_bad_model_input_raises(kwargs, key):
    with pytest.raises(ValueError, match=f"^{key}: "):
        ScalarModel(**kwargs)


def test_bad_solver_and_mixing_input_raises():
    with pytest.raises(ValueError, match="^sin_theta: "):
        ScalarModel.higgs_mixing(50.0, 1.5)
    with pytest.raises(ValueError, match="^target: "):
        mdl.eps_l_for_delta_a_mu(50.0, -1e-9)
    with pytest.raises(ValueError, match="^mass: "):
        mdl.eps_q_for_br_kl(400.0, 2e-9)
    with pytest.raises(ValueError, match="^target_br: "):
        mdl.eps_q_for_br_kl(100.0, 0.0)
    with pytest.raises(ValueError, match="^foo: "):
        mdl.eps_q_for_br_kl(100.0, 1e-9, foo="bar")
    with pytest.raises(ValueError, match="^mass: "):
        mdl.br_kl_pi0phi(-1.0)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _run(argv):
    from kotosim.model_cli import register

    p = argparse.ArgumentParser(prog="kotosim")
    sub = p.add_subparsers(dest="command")
    register(sub)
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_table(capsys):
    assert _run(["model", "--mass", "50", "--eps-q", "0.01", "--eps-l", "1"]) == 0
    out = capsys.readouterr().out
    assert "c*tau" in out and "K_L -> pi0 phi" in out and "Delta a_mu" in out
    assert _run(["model", "--mass", "100", "--higgs-mixing", "1e-3", "--pipi", "dispersive"]) == 0


@pytest.mark.parametrize(("argv", "key"), [
    (["model", "--mass", "-5", "--higgs-mixing", "0.1"], "--mass"),
    (["model", "--mass", "abc", "--eps-q", "1", "--eps-l", "1"], "--mass"),
    (["model", "--mass", "50"], "--eps-q"),
    (["model", "--mass", "50", "--higgs-mixing", "3"], "--higgs-mixing"),
    (["model", "--mass", "50", "--eps-q", "1", "--eps-l", "1", "--pipi", "foo"], "--pipi"),
])
def test_cli_bad_input_one_line(capsys, argv, key):
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"kotosim: error: {key}: ")
    assert "Traceback" not in err


def test_cli_plot_writes_png_and_csv(tmp_path, capsys):
    out = tmp_path / "plots"
    assert _run(["model", "plot", "--out", str(out), "--n-points", "30", "--m-max", "320"]) == 0
    png, csv = out / "model_br_ctau.png", out / "model_br_ctau.csv"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [r for r in csv.read_text().splitlines() if not r.startswith("#")]
    assert rows[0].startswith("mass_MeV,hm_br_ee") and len(rows) == 31
    assert sorted(p.name for p in out.iterdir()) == ["model_br_ctau.csv", "model_br_ctau.png"]


def test_cli_plot_bad_input_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "plots"
    assert _run(["model", "plot", "--out", str(out), "--m-max", "2000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kotosim: error: --m-min: ") and err.count("\n") == 1
    assert not out.exists()
