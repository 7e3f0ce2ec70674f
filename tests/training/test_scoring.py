"""EC57-style beat-by-beat comparison (ecgnet_tf.scoring) on hand-made annotations with known answers."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ecgnet_tf import scoring
from ecgnet_tf.scoring import average, bxb, gross, match_beats

FS = 360.0  # MIT-BIH: 150 ms = 54 samples, 100 ms = 36, 200 ms = 72


def _beats(labels: str, start: int = 1000, rr: int = 300) -> tuple[np.ndarray, list[str]]:
    """Beats every ``rr`` samples from ``start``, one per character of ``labels``."""
    return start + rr * np.arange(len(labels), dtype=np.int64), list(labels)


def _nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


# ---- matching ----

def test_identical_annotations_are_perfect():
    s, lab = _beats("NNSNVNFNQNSV")
    d = bxb(s, lab, s, lab, FS).to_dict()
    for c in ("S", "V"):
        assert d[c] == {"sensitivity": 1.0, "ppv": 1.0, "fpr": 0.0}
    assert d["qrs"] == {"sensitivity": 1.0, "ppv": 1.0}
    assert (d["matched"], d["missed"], d["extra"], d["accuracy"]) == (12, 0, 0, 1.0)
    assert d["classes"] == ["N", "S", "V", "F", "Q", "-"]
    conf = np.array(d["confusion"])
    assert conf.shape == (6, 6) and conf.sum() == 12 and np.trace(conf) == 12
    assert conf[:5, :5].diagonal().tolist() == [6, 2, 2, 1, 1]


@pytest.mark.parametrize("shift,matches", [(36, True), (-36, True), (72, False), (-72, False),
                                           (54, True), (-54, True), (55, False), (-55, False)])
def test_tolerance_150ms_inclusive(shift, matches):
    # 100 ms (36 samples) matches, 200 ms (72) does not; exactly 150 ms (54 samples) is inside the window
    s, lab = _beats("NVNS")
    r = bxb(s, lab, s + shift, lab, FS)
    n = len(lab)
    assert (r.matched, r.missed, r.extra) == ((n, 0, 0) if matches else (0, n, n))


def test_tolerance_boundary_other_rate_and_width():
    # at 250 Hz, 150 ms = 37.5 samples: 37 matches, 38 does not; a 0.1 s tolerance at 360 Hz is 36 samples
    assert match_beats([1000], [1037], 250.0).matched == 1
    assert match_beats([1000], [1038], 250.0).matched == 0
    assert match_beats([1000], [1036], FS, tolerance_s=0.1).matched == 1
    assert match_beats([1000], [1037], FS, tolerance_s=0.1).matched == 0
    assert match_beats([1000.0], [1000.0], FS, tolerance_s=0.0).matched == 1


def test_two_test_beats_near_one_reference_closer_wins_then_earlier():
    m = match_beats([1000], [990, 1020], FS)  # 10 vs 20 samples away: the closer one matches
    assert (m.ref_idx.tolist(), m.test_idx.tolist(), m.missed.tolist(), m.extra.tolist()) == ([0], [0], [], [1])
    m = match_beats([1000], [1030, 995], FS)  # input order does not matter; indices refer to the input
    assert (m.test_idx.tolist(), m.extra.tolist()) == ([1], [0])
    m = match_beats([1000], [1020, 980], FS)  # tie (20 each side): the earlier test beat wins
    assert (m.test_idx.tolist(), m.extra.tolist()) == ([1], [0])
    m = match_beats([980, 1020], [1000], FS)  # one test beat midway between two references: the earlier one
    assert (m.ref_idx.tolist(), m.missed.tolist()) == ([0], [1])
    m = match_beats([980, 1015], [1000], FS)  # ... unless the later one is closer
    assert (m.ref_idx.tolist(), m.missed.tolist()) == ([1], [0])


def test_extra_beat_near_a_matched_pair_is_extra_in_bxb():
    r = bxb([1000, 1300], ["N", "N"], [1000, 1040, 1300], ["N", "V", "N"], FS)
    assert (r.matched, r.missed, r.extra) == (2, 0, 1)
    assert r.counts("V") == {"tp": 0, "fn": 0, "fp": 1, "tn": 2}
    assert r.confusion[-1].tolist() == [0, 0, 1, 0, 0, 0]  # row "-", column V


def test_matching_is_one_to_one_within_tolerance_in_time_order_and_maximal():
    rng = np.random.default_rng(0)
    tol = 0.150 * FS
    for _ in range(60):
        ref = np.sort(rng.choice(20000, size=rng.integers(0, 80), replace=False)).astype(float)
        test = rng.permutation(np.concatenate([ref + rng.uniform(-80, 80, size=ref.size),
                                               rng.uniform(0, 20000, size=rng.integers(0, 10))]))
        m = match_beats(ref, test, FS)
        assert len(set(m.ref_idx.tolist())) == m.matched == len(set(m.test_idx.tolist()))
        assert sorted(m.ref_idx.tolist() + m.missed.tolist()) == list(range(ref.size))
        assert sorted(m.test_idx.tolist() + m.extra.tolist()) == list(range(test.size))
        assert np.all(np.abs(ref[m.ref_idx] - test[m.test_idx]) <= tol)
        assert np.all(np.diff(ref[m.ref_idx]) > 0) and np.all(np.diff(test[m.test_idx]) > 0)  # time order
        # maximal: an unmatched reference and test beat within tolerance could only pair by crossing
        mr, mt = ref[m.ref_idx], test[m.test_idx]
        for i in m.missed.tolist():
            for j in m.extra.tolist():
                if abs(ref[i] - test[j]) <= tol:
                    assert np.any(((mr < ref[i]) & (mt > test[j])) | ((mr > ref[i]) & (mt < test[j])))


def test_crowded_beats_keep_time_order():
    # references 10 samples apart, tests at 8 and 12: the closest pair (10, 8) is taken first; (0, 12)
    # would cross it, so the second reference is missed and the second test beat is extra
    m = match_beats([0, 10], [8, 12], FS)
    assert (m.ref_idx.tolist(), m.test_idx.tolist(), m.missed.tolist(), m.extra.tolist()) == ([1], [0], [0], [1])
    # closest first is maximal, not maximum: refs 0, 50 and tests 40, 95 take (50, 40) first (10 samples),
    # after which (0, 40) and (50, 95) are blocked, although (0, 40) + (50, 95) would pair all four
    m = match_beats([0, 50], [40, 95], FS)
    assert (m.ref_idx.tolist(), m.test_idx.tolist(), m.missed.tolist(), m.extra.tolist()) == ([1], [0], [0], [1])
    m = match_beats([1000, 1300, 1600], [990, 1310, 1590], FS)
    assert m.ref_idx.tolist() == m.test_idx.tolist() == [0, 1, 2]


# ---- EC57 counts ----

def test_missed_reference_v_lowers_v_sensitivity():
    s, lab = _beats("NVNVNVNVNN")
    keep = np.ones(len(lab), dtype=bool)
    keep[3] = False  # drop the second V from the test annotation
    d = bxb(s, lab, s[keep], np.array(lab)[keep], FS).to_dict()
    assert d["V"]["sensitivity"] == 3 / 4 and d["V"]["ppv"] == 1.0 and d["V"]["fpr"] == 0.0
    assert (d["matched"], d["missed"], d["extra"]) == (9, 1, 0)
    assert d["qrs"] == {"sensitivity": 9 / 10, "ppv": 1.0}
    assert d["confusion"][2][5] == 1  # reference V, column "-"
    assert d["S"]["sensitivity"] != d["S"]["sensitivity"]  # no reference S: NaN


def test_extra_test_beat_labelled_v_lowers_v_ppv():
    s, lab = _beats("NVNVNVNVNN")  # 4 V, 6 N
    r = bxb(s, lab, np.append(s, s[-1] + 150), lab + ["V"], FS)  # 150 samples after the last beat: extra
    d = r.to_dict()
    assert r.counts("V") == {"tp": 4, "fn": 0, "fp": 1, "tn": 6}
    assert d["V"] == {"sensitivity": 1.0, "ppv": 4 / 5, "fpr": 1 / 7}
    assert (d["matched"], d["missed"], d["extra"]) == (10, 0, 1)
    assert d["qrs"] == {"sensitivity": 1.0, "ppv": 10 / 11}
    assert d["accuracy"] == 1.0  # on matched beats only


def test_s_labelled_n_is_an_s_false_negative_not_an_n_error():
    s, lab = _beats("NSNSNVN")
    test = list(lab)
    test[3] = "N"
    r = bxb(s, lab, s, test, FS)
    d = r.to_dict()
    assert r.counts("S") == {"tp": 1, "fn": 1, "fp": 0, "tn": 5}  # TN: N and V rows not labelled S
    assert d["S"] == {"sensitivity": 0.5, "ppv": 1.0, "fpr": 0.0}
    assert d["V"] == {"sensitivity": 1.0, "ppv": 1.0, "fpr": 0.0}  # the S->N beat is a VEB true negative
    assert r.counts("V") == {"tp": 1, "fn": 0, "fp": 0, "tn": 6}
    assert d["confusion"][1][0] == 1 and d["accuracy"] == 6 / 7
    assert "N" not in d  # no N statistics


def test_ec57_exclusions_fusion_and_unclassifiable():
    # reference:  N N V V F Q Q S  ;  test: N N V Q V V S S
    ref = list("NNVVFQQS")
    test = list("NNVQVVSS")
    s = _beats("x" * len(ref))[0]
    r = bxb(s, ref, s, test, FS)
    # VEB: Vv=1 TP; Vq=1 FN (a Q label is not V); Fv and Qv are not false positives; TN = N, S rows not v
    assert r.counts("V") == {"tp": 1, "fn": 1, "fp": 0, "tn": 3}
    # SVEB: Ss=1 TP; Qs is not a false positive; TN = N, V, F rows not labelled s (Nn Nn Vv Vq Fv)
    assert r.counts("S") == {"tp": 1, "fn": 0, "fp": 0, "tn": 5}
    plain = bxb(s, ref, s, test, FS, ec57=False)
    assert plain.counts("V") == {"tp": 1, "fn": 1, "fp": 2, "tn": 4}  # FP + Fv, Qv; TN + Qs
    assert plain.counts("S") == {"tp": 1, "fn": 0, "fp": 1, "tn": 6}  # FP + Qs; TN + Qv
    assert plain.to_dict()["V"] == {"sensitivity": 0.5, "ppv": 1 / 3, "fpr": 2 / 6}
    d = r.to_dict()
    assert d["V"] == {"sensitivity": 0.5, "ppv": 1.0, "fpr": 0.0}


def test_fusion_labelled_s_is_an_sveb_false_positive():
    r = bxb([1000, 1300], ["F", "N"], [1000, 1300], ["S", "N"], FS)
    assert r.counts("S") == {"tp": 0, "fn": 0, "fp": 1, "tn": 1}
    assert r.counts("V") == {"tp": 0, "fn": 0, "fp": 0, "tn": 1}  # F row left out of VEB FP/TN


# ---- skip intervals ----

def test_skip_intervals_remove_beats_of_both_sides():
    ref = [100, 500, 900, 1300, 1700]
    ref_lab = ["N", "V", "V", "N", "N"]
    test = [100, 500, 700, 1300, 1700]
    test_lab = ["N", "N", "V", "N", "N"]  # inside the skip: a V called N, a missed V, an extra V
    full = bxb(ref, ref_lab, test, test_lab, FS)
    assert (full.matched, full.missed, full.extra) == (4, 1, 1) and full.counts("V")["tp"] == 0
    r = bxb(ref, ref_lab, test, test_lab, FS, skip=[(450, 950)])
    d = r.to_dict()
    assert (d["matched"], d["missed"], d["extra"]) == (3, 0, 0)
    assert _nan(d["V"]["sensitivity"]) and _nan(d["V"]["ppv"]) and d["V"]["fpr"] == 0.0  # no V left
    assert d["qrs"] == {"sensitivity": 1.0, "ppv": 1.0}
    assert sorted(r.match.ref_idx.tolist()) == [0, 3, 4]
    # interval ends are inclusive, and a pair straddling the edge is dropped whole (no missed/extra left)
    r = bxb([1000, 1300], ["V", "N"], [1010, 1300], ["V", "N"], FS, skip=[(0, 1000)])
    assert (r.matched, r.missed, r.extra) == (1, 0, 0) and r.counts("V")["tp"] == 0
    r = bxb([1000, 1300], ["V", "N"], [990, 1300], ["V", "N"], FS, skip=[(1000, 1100)])
    assert (r.matched, r.missed, r.extra) == (1, 0, 0)
    with pytest.raises(ValueError, match="ends before"):
        bxb([1], ["N"], [1], ["N"], FS, skip=[(10, 5)])


# ---- gross vs average ----

def test_gross_and_average_differ():
    # A: 10 V + 10 N, all right.  B: 2 V + 10 N; one V called N, one N called V.  C: 5 N, all right.
    sa, la = _beats("VN" * 10)
    a = bxb(sa, la, sa, la, FS)
    sb, lb = _beats("VV" + "N" * 10)
    tb = list(lb)
    tb[1], tb[5] = "N", "V"
    b = bxb(sb, lb, sb, tb, FS)
    sc, lc = _beats("NNNNN")
    c = bxb(sc, lc, sc, lc, FS)
    assert b.counts("V") == {"tp": 1, "fn": 1, "fp": 1, "tn": 9}

    g = gross([a, b, c])  # TP 11, FN 1, FP 1, TN 10 + 9 + 5 = 24
    assert g["V"] == pytest.approx({"sensitivity": 11 / 12, "ppv": 11 / 12, "fpr": 1 / 25})
    assert g["accuracy"] == pytest.approx(35 / 37)
    assert (g["matched"], g["missed"], g["extra"]) == (37, 0, 0)

    av = average([a, b, c])  # Se, +P over A and B only (C has no V and no test V); FPR over all three
    assert av["V"] == pytest.approx({"sensitivity": 0.75, "ppv": 0.75, "fpr": (0 + 0.1 + 0) / 3})
    assert av["accuracy"] == pytest.approx((1 + 10 / 12 + 1) / 3)
    assert (av["matched"], av["missed"], av["extra"]) == (37, 0, 0)
    assert av["confusion"] == g["confusion"]
    assert _nan(g["S"]["sensitivity"]) and _nan(av["S"]["sensitivity"])
    assert g["S"]["fpr"] == 0.0 and av["S"]["fpr"] == 0.0


def test_gross_and_average_of_one_record_equal_its_own():
    s, lab = _beats("NVNSNNVN")
    test = list(lab)
    test[1] = "N"
    r = bxb(s[:-1], lab[:-1], s, test, FS)
    assert json.dumps(gross([r])) == json.dumps(r.to_dict())  # NaN-safe comparison
    assert json.dumps(average([r])) == json.dumps(r.to_dict())


def test_combining_different_settings_is_refused():
    s, lab = _beats("NV")
    with pytest.raises(ValueError, match="same classes"):
        gross([bxb(s, lab, s, lab, FS), bxb(s, lab, s, lab, FS, ec57=False)])
    with pytest.raises(ValueError, match="same classes"):
        average([bxb(s, lab, s, lab, FS), bxb(s, lab, s, lab, FS, classes=("N", "V"))])


# ---- empty and bad input ----

def test_empty_inputs_give_nans_not_crashes():
    r = bxb([], [], [], [], FS)
    d = r.to_dict()
    assert (d["matched"], d["missed"], d["extra"]) == (0, 0, 0)
    assert all(_nan(d[c][k]) for c in ("S", "V") for k in ("sensitivity", "ppv", "fpr"))
    assert _nan(d["qrs"]["sensitivity"]) and _nan(d["qrs"]["ppv"]) and _nan(d["accuracy"])
    assert d["confusion"] == [[0] * 6 for _ in range(6)]

    only_ref = bxb([100, 400], ["N", "V"], np.array([], dtype=np.int64), np.array([], dtype="<U1"), FS).to_dict()
    assert only_ref["qrs"]["sensitivity"] == 0.0 and _nan(only_ref["qrs"]["ppv"])
    assert only_ref["V"]["sensitivity"] == 0.0 and _nan(only_ref["V"]["ppv"]) and _nan(only_ref["accuracy"])
    only_test = bxb([], [], [100], ["V"], FS).to_dict()
    assert only_test["qrs"]["ppv"] == 0.0 and only_test["V"]["ppv"] == 0.0 and only_test["V"]["fpr"] == 1.0

    m = match_beats([], [], FS)
    assert m.matched == 0 and m.missed.size == 0 and m.extra.size == 0
    for combined in (gross([]), average([])):
        assert combined["matched"] == 0 and _nan(combined["V"]["sensitivity"]) and _nan(combined["qrs"]["ppv"])
        assert combined["classes"] == ["N", "S", "V", "F", "Q", "-"]
    assert _nan(average([r])["V"]["fpr"])


def test_to_dict_shape_is_json_safe():
    s, lab = _beats("NSVFQ")
    d = bxb(s, lab, s[:3], lab[:3], FS).to_dict()
    assert set(d) == {"S", "V", "qrs", "matched", "missed", "extra", "accuracy", "confusion", "classes"}
    assert set(d["S"]) == set(d["V"]) == {"sensitivity", "ppv", "fpr"} and set(d["qrs"]) == {"sensitivity", "ppv"}
    assert all(type(d[k]) is int for k in ("matched", "missed", "extra"))
    assert all(type(v) is int for row in d["confusion"] for v in row)
    back = json.loads(json.dumps(d))  # NaN allowed (Python's json writes NaN)
    assert back["matched"] == 3 and back["missed"] == 2
    assert _nan(back["V"]["ppv"]) is False and back["V"]["sensitivity"] == 1.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="not in classes"):
        bxb([1], ["X"], [1], ["N"], FS)
    with pytest.raises(ValueError, match="labels for"):
        bxb([1, 2], ["N"], [1], ["N"], FS)
    with pytest.raises(ValueError, match="fs"):
        match_beats([1], [1], 0)
    with pytest.raises(ValueError, match="must not contain"):
        bxb([1], ["N"], [1], ["N"], FS, classes=("N", "-"))
    assert scoring.DEFAULT_CLASSES == ("N", "S", "V", "F", "Q")


# ---- real data ----

@pytest.mark.realdata
def test_real_record_100_against_itself_and_shifted(shared_data):
    from ecgnet_tf.data.mitdb import AAMI_CLASSES, FS_HZ, read_beats

    samples, _, classes = read_beats(shared_data, "100")
    assert scoring.DEFAULT_CLASSES == AAMI_CLASSES
    n = samples.size
    for shift in (0, 2, -2):
        r = bxb(samples, classes, samples + shift, classes, FS_HZ)
        d = r.to_dict()
        assert (d["matched"], d["missed"], d["extra"], d["accuracy"]) == (n, 0, 0, 1.0), shift
        assert d["qrs"] == {"sensitivity": 1.0, "ppv": 1.0}
        assert d["S"] == {"sensitivity": 1.0, "ppv": 1.0, "fpr": 0.0}  # record 100 has 33 S beats
        assert d["V"] == {"sensitivity": 1.0, "ppv": 1.0, "fpr": 0.0}  # and 1 V beat
        assert np.array_equal(r.match.ref_idx, np.arange(n)) and np.array_equal(r.match.test_idx, np.arange(n))
    assert gross([r, r])["matched"] == 2 * n
