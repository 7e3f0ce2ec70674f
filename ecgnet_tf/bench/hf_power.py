"""How much 50-150 Hz power survives the wide (0.5-150 Hz) and conventional (0.5-40 Hz) band-pass.

    python -m ecgnet_tf.bench.hf_power --data-dir D --out DIR [--records 100,101,...]

For each MIT-BIH record (first channel) the Welch power in 50-150 Hz of the raw signal is compared
with that of the band-passed signal (zero-phase Butterworth, order 4 per pass). Note: MIT-BIH is
sampled at 360 Hz (Nyquist 180 Hz) but its analog recording bandwidth was only about 0.1-100 Hz,
so power above ~100 Hz is mostly noise / quantisation; the fractions say what the filters keep,
not how much diagnostic content there is. Writes DIR/hf_power.json and DIR/hf_power.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecgnet_tf.cli import add_data_dir_argument, data_dir_of
from ecgnet_tf.data.mitdb import RECORDS as MITDB_RECORDS
from ecgnet_tf.preprocess.filters import bandpass, hf_power_retained
from ecgnet_tf.preprocess.pipeline import CONVENTIONAL_BAND_HZ

WIDE_BAND_HZ = (0.5, 150.0)
HF_BAND_HZ = (50.0, 150.0)
NOTE = ("MIT-BIH is sampled at 360 Hz, but its analog recording bandwidth was about 0.1-100 Hz "
        "(Holter playback), so the 100-150 Hz part of the band holds little real ECG content.")


def run(data_dir: Path, records: list[str], progress: bool = True) -> dict:
    """Per-record and summary retained fractions for both filters."""
    import wfdb
    from tqdm import tqdm

    per: dict = {}
    for rec in tqdm(records, desc="records", disable=not progress, file=sys.stderr):
        r = wfdb.rdrecord(str(Path(data_dir) / "mitdb" / rec), channels=[0])
        x = np.asarray(r.p_signal[:, 0], dtype=np.float64)
        fs = float(r.fs)
        per[rec] = {
            "wide_0.5_150": round(hf_power_retained(x, bandpass(x, fs, *WIDE_BAND_HZ), fs, HF_BAND_HZ), 5),
            "conventional_0.5_40": round(hf_power_retained(x, bandpass(x, fs, *CONVENTIONAL_BAND_HZ), fs, HF_BAND_HZ), 5),
        }
    summary = {}
    for key in ("wide_0.5_150", "conventional_0.5_40"):
        v = np.array([p[key] for p in per.values()], dtype=np.float64)
        summary[key] = {"mean": round(float(np.mean(v)), 5), "median": round(float(np.median(v)), 5),
                        "min": round(float(np.min(v)), 5), "max": round(float(np.max(v)), 5)}
    return {"band_hz": list(HF_BAND_HZ), "filters": {"wide_0.5_150": list(WIDE_BAND_HZ),
                                                     "conventional_0.5_40": list(CONVENTIONAL_BAND_HZ)},
            "filter": "zero-phase Butterworth order 4 per pass (sosfiltfilt)",
            "psd": "Welch, 2 s Hann segments, power summed over 50-150 Hz",
            "summary": summary, "per_record": per, "records": records, "note": NOTE}


def to_markdown(res: dict) -> str:
    s = res["summary"]
    md = ["# 50-150 Hz power retained by the band-pass filters (MIT-BIH, first channel)", "",
          f"Fraction of the raw signal's Welch power in {res['band_hz'][0]:g}-{res['band_hz'][1]:g} Hz left after "
          f"filtering ({res['filter']}), over {len(res['records'])} records.", "",
          "| filter | mean | median | min | max |", "|---|---|---|---|---|"]
    for key, label in (("wide_0.5_150", "0.5-150 Hz"), ("conventional_0.5_40", "0.5-40 Hz")):
        m = s[key]
        md.append(f"| {label} | {m['mean']:.4f} | {m['median']:.4f} | {m['min']:.4f} | {m['max']:.4f} |")
    md += ["", f"Note: {res['note']}", "", "## Per record", "", "| record | 0.5-150 Hz | 0.5-40 Hz |", "|---|---|---|"]
    for rec, p in res["per_record"].items():
        md.append(f"| {rec} | {p['wide_0.5_150']:.4f} | {p['conventional_0.5_40']:.5f} |")
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(ap)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--records", default=",".join(MITDB_RECORDS))
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    data_dir = data_dir_of(a)
    records = [r.strip() for r in a.records.split(",") if r.strip()]
    missing = [r for r in records if not (data_dir / "mitdb" / f"{r}.hea").is_file()]
    if missing:
        ap.error(f"records not found under {data_dir / 'mitdb'}: {missing}")
    res = run(data_dir, records, progress=not a.no_progress)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "hf_power.json").write_text(json.dumps(res, indent=2) + "\n")
    (a.out / "hf_power.md").write_text(to_markdown(res))
    for k, m in res["summary"].items():
        print(f"{k}: mean {m['mean']:.4f} median {m['median']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
