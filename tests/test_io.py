"""ROOT output: histograms with sumw2 equal the result's, event sample round trip."""

from __future__ import annotations

import json

import numpy as np
import uproot

import kotosim


def test_root_file_matches_result(koto_default, tmp_path):
    path = kotosim.write_root(koto_default, tmp_path / "r.root")
    with uproot.open(path) as f:
        for i in range(len(koto_default.ctau)):
            h = koto_default.hists["ptz"][i]
            np.testing.assert_allclose(f[f"ptz_{i}"].values(), h.values())
            np.testing.assert_allclose(f[f"ptz_{i}"].variances(), h.variances())
            np.testing.assert_allclose(f[f"z_{i}"].values(), h.project("z").values())
        acc = f["acceptance"].arrays(library="np")
        for k, v in koto_default.acceptance.items():
            np.testing.assert_array_equal(acc[k], v)
            np.testing.assert_array_equal(acc[f"{k}_err"], koto_default.error[k])
        ev = f["events"].arrays(library="np")
        np.testing.assert_array_equal(ev["z_reco"], np.asarray(koto_default.sample.z_reco))
        assert ev["weight"].shape == (len(koto_default.sample), len(koto_default.ctau))
        cfg = json.loads(str(f["config"]))
        assert cfg["seed"] == 5 and cfg["n_events"] == 200_000 and cfg["version"]
