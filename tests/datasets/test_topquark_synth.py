"""Synthetic jets: exact kinematics (conservation, massless constituents, the jet window), the physics sanity
checks (top mass peak, falling QCD mass, W peak in subjet pairs) with negative controls, and the files."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from liegan.datasets import topquark as tq
from liegan.datasets import topquark_synth as S
from liegan.io import InputError


@pytest.fixture(scope="module")
def jets():
    return S.make_jets(4000, np.random.default_rng(11))


def test_boost_and_two_body_closed_forms():
    rng = np.random.default_rng(0)
    m = rng.uniform(1.0, 50.0, 100)
    P = S.from_pt_eta_phi_m(rng.uniform(10, 500, 100), rng.uniform(-2, 2, 100), rng.uniform(-3, 3, 100), m)
    rest = np.zeros_like(P)
    rest[:, 0] = m
    np.testing.assert_allclose(S.boost(rest, P[:, 1:] / P[:, :1], P[:, 0] / m), P, rtol=1e-12, atol=1e-9)
    m1, m2 = 0.3 * m, 0.2 * m
    p1, p2 = S.two_body(P, m, m1, m2, rng.uniform(-1, 1, 100), rng.uniform(0, 6.28, 100))
    np.testing.assert_allclose(p1 + p2, P, rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(np.sqrt(S.minkowski_mass2(p1)), m1, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(S.minkowski_mass2(p2)), m2, rtol=1e-6)


def test_four_momentum_conserved_and_constituents_massless(jets):
    c, truth, is_top = jets
    total = c.sum(1)
    top = is_top == 1
    scale = np.abs(truth[top]).max(axis=1, keepdims=True)
    assert np.abs(total[top] - truth[top]).max() / scale.min() < 1e-10
    real = np.any(c != 0, axis=2)
    e = c[..., 0][real]
    m2 = S.minkowski_mass2(c)[real]
    assert np.all(e > 0) and np.abs(m2).max() / (e**2).max() < 1e-12
    assert np.all(truth[~top] == 0)


def test_jet_window_ordering_and_padding(jets):
    c, _, _ = jets
    total = c.sum(1)
    pt = np.hypot(total[:, 1], total[:, 2])
    eta = np.arcsinh(total[:, 3] / pt)
    assert pt.min() >= 550.0 - 1e-6 and pt.max() <= 650.0 + 1e-6
    assert np.abs(eta).max() < 2.0
    phi = np.arctan2(total[:, 2], total[:, 1])
    assert np.histogram(phi, bins=4, range=(-np.pi, np.pi))[0].min() > 0.2 * len(phi)
    cpt = np.hypot(c[..., 1], c[..., 2])
    assert np.all(np.diff(cpt, axis=1) <= 1e-9)  # pT-ordered, padding (pT 0) last
    real = np.any(c != 0, axis=2)
    n = real.sum(1)
    assert np.array_equal(real, np.arange(200)[None, :] < n[:, None])
    assert 10 < n.mean() < 120 and n.max() <= 200


def test_sanity_top_mass_qcd_falling_w_peak(jets):
    c, _, is_top = jets
    s = S.sanity_summary(c, is_top, n_subjet_jets=150)
    assert abs(s["top_mass_median"] - S.M_TOP) < 1.0, s
    assert s["qcd_mass_falls"] and s["qcd_mass_median"] < 120.0, s
    assert s["w_pair_fraction_top"] > 0.7 and s["w_pair_fraction_qcd"] < 0.5, s
    m = S.jet_mass(c)
    assert np.mean(np.abs(m[is_top == 1] - S.M_TOP) < 10) > 0.9
    assert np.mean(np.abs(m[is_top == 0] - S.M_TOP) < 10) < 0.1


def test_sanity_checks_fail_on_wrong_jets(jets):
    """Negative controls: the checks notice jets that are not what they claim."""
    c, _, is_top = jets
    swapped = S.sanity_summary(c, 1 - is_top, n_subjet_jets=100)  # QCD labelled as top and vice versa
    assert abs(swapped["top_mass_median"] - S.M_TOP) > 30
    assert not swapped["qcd_mass_falls"]  # a peak at 172 GeV is not a falling spectrum
    assert swapped["w_pair_fraction_top"] < 0.5
    rng = np.random.default_rng(1)
    rising = np.zeros((2000, 200, 4))
    m = rng.triangular(0, 250, 250, 2000)  # a mass spectrum that rises
    rising[:, 0] = S.from_pt_eta_phi_m(np.full(2000, 600.0), np.zeros(2000), np.zeros(2000), m)
    assert not S.sanity_summary(rising, np.zeros(2000, np.int64), n_subjet_jets=0)["qcd_mass_falls"]


def test_exclusive_kt_recovers_three_separated_prongs():
    prongs = []
    for phi, pt in ((0.0, 100.0), (0.5, 80.0), (-0.5, 60.0)):
        d = np.array([0.0, 0.01, -0.01])
        prongs.append(S.from_pt_eta_phi_m(np.full(3, pt / 3), d, phi + d, np.zeros(3)))
    sj = S.exclusive_kt_subjets(np.concatenate(prongs), 3)
    want = np.stack([q.sum(0) for q in prongs])
    order = np.argsort(-np.hypot(sj[:, 1], sj[:, 2]))
    np.testing.assert_allclose(sj[order], want, rtol=1e-12, atol=1e-9)
    # negative control: asking for two subjets must merge two prongs
    assert len(S.exclusive_kt_subjets(np.concatenate(prongs), 2)) == 2


def test_deterministic_in_seed():
    a = S.make_jets(50, np.random.default_rng(3))
    b = S.make_jets(50, np.random.default_rng(3))
    c = S.make_jets(50, np.random.default_rng(4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_file_round_trip_matches_generator(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    path = tmp_path / "train.h5"
    S.write_split(path, 250, seed=7, ttv=0, chunk=100)
    c, truth, is_top = [], [], []
    rng = np.random.default_rng(7)
    for m in (100, 100, 50):
        a, b, y = S.make_jets(m, rng)
        c.append(a)
        truth.append(b)
        is_top.append(y)
    c, truth, is_top = np.concatenate(c), np.concatenate(truth), np.concatenate(is_top)
    df = pd.read_hdf(path, "table")
    assert list(df.columns) == S.column_names() and len(df) == 250
    assert list(df.index) == list(range(250))
    assert df.dtypes.iloc[0] == np.float32 and df["is_signal_new"].dtype == np.int64
    np.testing.assert_array_equal(df.iloc[:, :800].to_numpy(), c.reshape(250, 800).astype(np.float32))
    np.testing.assert_array_equal(df[["truthE", "truthPX", "truthPY", "truthPZ"]].to_numpy(), truth.astype(np.float32))
    np.testing.assert_array_equal(df["is_signal_new"].to_numpy(), is_top)
    jets = tq.read_jets(path, constituents=2)
    np.testing.assert_array_equal(jets.momenta, c[:, :2].astype(np.float32))
    assert not list(tmp_path.glob(".*tmp"))
    import h5py

    with h5py.File(path) as f:  # what pandas < 3.1 needs to read the table (the real files carry it)
        assert f["table"].attrs["pandas_version"] in (b"0.15.2", "0.15.2")


def test_missing_pandas_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tables", None)
    with pytest.raises(InputError, match=r"pandas and PyTables.*tables is missing.*liegan\[topquark\]"):
        S.write_split(tmp_path / "x.h5", 10, seed=0)
    assert not (tmp_path / "x.h5").exists()


def test_synthesize_split_sizes_and_bad_count(tmp_path):
    pytest.importorskip("tables")
    out = S.synthesize(tmp_path, 30, seed=1, splits=("val",))
    assert set(out) == {"val"} and not (tmp_path / "train.h5").exists()
    assert len(tq.read_jets(tmp_path / "val.h5", 1).labels) == 10
    with pytest.raises(InputError, match="at least 1"):
        S.synthesize(tmp_path, 0)
