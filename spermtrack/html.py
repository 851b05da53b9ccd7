"""Self-contained HTML reports: one page per analysed video, and an index for an archive.

Pages carry their images inline (base64 PNG) and their style in the page, so they open from any
folder, by e-mail or on a machine without network. Text is escaped; numbers are formatted with their
units.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from collections.abc import Mapping, Sequence

from spermtrack.constants import GRADES, WHO_A_UM_S, WHO_B_UM_S, WHO_REFERENCE_LIMITS

__all__ = ["archive_index_html", "crosscheck_html", "video_report_html"]

_STYLE = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.result{font-size:1.1em;background:#f4f8f4;border-left:4px solid #009e73;padding:8px 12px}
.warn{background:#fff6e6;border-left:4px solid #e69f00;padding:6px 12px}
.err{color:#b00020} img{max-width:100%;border:1px solid #ddd;margin:6px 0}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}
details{margin:.5em 0} pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:.85em}
.muted{color:#666;font-size:.9em}
"""


#: How the report names the mean kinematics (CASA abbreviations, what they mean, units).
_MEAN_NAMES = {
    "vcl_um_s": "VCL, curvilinear velocity (um/s)", "vsl_um_s": "VSL, straight-line velocity (um/s)",
    "vap_um_s": "VAP, average-path velocity (um/s)", "lin": "LIN, linearity = VSL / VCL",
    "str": "STR, straightness = VSL / VAP", "wob": "WOB, wobble = VAP / VCL",
    "alh_mean_um": "ALH mean, lateral head displacement (um)", "alh_max_um": "ALH max (um)",
    "bcf_hz": "BCF, beat-cross frequency (Hz)", "mad_deg": "MAD, mean angular displacement (deg)",
    "progression_um_s": "net progression over 1 s (um/s)"}


def _e(value: object) -> str:
    return html.escape(str(value))


def _num(value: object, spec: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{format(float(value), spec)}{unit}"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
            f"<body>{body}</body></html>\n")


def _how_to_read(preset: str) -> str:
    return f"""
<h2>How to read this</h2>
<p>spermtrack found the sperm heads in every frame, followed each head from frame to frame (a <em>track</em>) and
measured how it moved. Each track long enough to judge (at least one second) gets a WHO 2021 motility grade:</p>
<ul>
<li><b>a, rapidly progressive</b>: the head covers at least {WHO_A_UM_S:g} um from start to end point in one
second;</li>
<li><b>b, slowly progressive</b>: {WHO_B_UM_S:g} to {WHO_A_UM_S:g} um in one second;</li>
<li><b>c, non-progressive</b>: the head moves less than {WHO_B_UM_S:g} um in a second but is alive: it wobbles
above the measured noise;</li>
<li><b>d, immotile</b>: no motion above the measurement noise.</li>
</ul>
<p>The percentages count graded tracks. <b>Progressive</b> motility is a + b, <b>total motility</b> a + b + c; WHO 2021
gives lower reference limits of {WHO_REFERENCE_LIMITS['progressive_pct']:g} % and
{WHO_REFERENCE_LIMITS['motile_pct']:g} %. Tracks shorter than a second are counted as ungraded, never guessed;
a track the detector lost for longer than the preset's <code>max_gap_s</code> is measured on its longest stretch
without such a gap (the rows left out: <code>n_trimmed</code> in kinematics.csv).
The grading rule used here is the <code>{_e(preset)}</code> preset.</p>
<p class="muted">Limits to keep in mind: c and d are told apart by head motion only (WHO defines them by tail
movement, which a head tracker cannot see); the shipped detector models were fitted on VISEM-Tracking video 11
and on the SVIA clips S_0001-S_0002 (yolo on both; the blob score models on video 11 for bright heads and on SVIA for
dark heads), so a result on those videos is in-sample; every speed depends on the pixel size and frame rate given (check them in
the settings below); a sperm that leaves and re-enters the field may count as two tracks. In the annotated video the
box colour is the track's grade and the line behind a head is its path over the last half second.</p>
"""


def _interval(ci) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"{ci[0]:.0f}-{ci[1]:.0f} %"


def _pct_ci(pct: Mapping, ci: Mapping, key: str) -> str:
    value = pct.get(key)
    if value is None:
        return "n/a"
    interval = ci.get(key)
    return f"{value:.1f} %" + (f" ({interval[0]:.0f}-{interval[1]:.0f})" if interval else "")


def _verdict(meets: Mapping, limits: Mapping, key: str) -> str:
    verdict = meets.get(key) if meets else None
    if verdict is None:
        return ""
    if isinstance(verdict, bool):  # a summary written before verdicts could be uncertain
        verdict = "met" if verdict else "not met"
    return f"WHO lower reference limit {limits.get(f'{key}_pct', '')} %: {verdict}"


def _look_html(look: Mapping | None) -> str:
    """Which look the detector took (bright or dark heads), and whether it was decided or given."""
    if not look:
        return ""
    words = {"bright": "bright heads on a darker background (phase contrast)",
             "dark": "dark heads on a lighter background (bright field)"}.get(look.get("polarity"), "?")
    how = "given" if look.get("source") == "given" else "auto"
    evidence = look.get("evidence") or {}
    detail = (f": strongest bright response {evidence['bright_response']:g}, dark {evidence['dark_response']:g} "
              "grey levels in the first frame" if "bright_response" in evidence else "")
    return f'<p class="muted">Look: {_e(look.get("polarity"))} ({how}) - {_e(words)}{_e(detail)}.</p>'


def _rule_text(config: Mapping) -> str:
    """The grading rule of a kinematics config in one sentence (it may differ from the WHO 2021 wording)."""
    if not config:
        return ""
    speed = "1-s net progression" if config.get("grade_metric") == "progression" else "VAP (average-path velocity)"
    gates = [f"{name.upper()} >= {config[f'{name}_min']:g}" for name in ("str", "lin") if config.get(f"{name}_min")]
    gate = f" and {' and '.join(gates)}" if gates else ""
    return (f"Rule of the {config.get('name', '?')} preset used here: a if the {speed} is at least "
            f"{config.get('a_threshold_um_s', 0):g} um/s{gate}, b if at least {config.get('b_threshold_um_s', 0):g} "
            f"um/s{gate}, else c if the head moves above the noise floor (and by at least "
            f"{config.get('motile_min_um', 0):g} um), else d.")


def _noise_text(noise: Mapping) -> str:
    """The localisation noise in words: what it is measured on and what it is for."""
    sigma = noise.get("sigma_px")
    if sigma is None:
        return "Localisation noise: not estimated (no track long enough)."
    return (f"Localisation noise of the measured head positions: {sigma:.3f} px ({noise.get('sigma_um', 0):.3f} um) "
            "per axis, estimated from the steadiest tracks (second differences of the detected positions). It is "
            "the repeatability of the detector on still heads; the c versus d test requires head motion well "
            "above it.")


def _per_sperm_html(block: Mapping | None, kinematic: Mapping) -> str:
    """The per-sperm video model's distribution beside the kinematic one (empty without the model)."""
    if not block:
        return ""
    video = block.get("percent_video") or {}
    combined = block.get("percent_combined") or {}
    rows = "".join(
        f'<tr><td>{_e(name)}</td><td class="num">{_num(kinematic.get(key), unit=" %")}</td>'
        f'<td class="num">{_num(video.get(key), unit=" %")}</td><td class="num">{_num(combined.get(key), unit=" %")}</td></tr>'
        for key, name in (("a", "a rapid progressive"), ("b", "b slow progressive"), ("c", "c non-progressive"),
                          ("d", "d immotile"), ("progressive", "progressive (a + b)")))
    val = (block.get("model") or {}).get("val") or {}
    trained = (f" On held-out synthetic clips it reached a balanced accuracy of {_num(val.get('balanced_accuracy'), '.2f')}"
               f" and told c from d right in {_num(100 * val['c_vs_d_accuracy'], '.0f')} % of cells."
               if val.get("c_vs_d_accuracy") is not None else "")
    return f"""<h2>Per-sperm video model</h2>
<p>A {_e((block.get('model') or {}).get('arch', '?'))} model graded each of the {block.get('n', 0)} graded tracks
from a 1-s clip of the pixels around its head (it sees the tail, which head tracks cannot). The combined grade keeps
the kinematic grade for a and b and takes the video model's choice between c (tail beating in place) and d. Kinematic
and video grade differ for {block.get('disagreements', 0)} tracks (kinematics.csv: grade_disagrees).{_e(trained)}</p>
<table><tr><th>grade</th><th>kinematics</th><th>video model (mean distribution)</th><th>combined</th></tr>{rows}</table>
"""


def video_report_html(*, video_id: str, source: str, summary: Mapping, images: Mapping[str, bytes],
                      settings: Mapping, files: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The ``report.html`` of one analysed video.

    Parameters
    ----------
    video_id, source : str
        The video's name and where it was read from.
    summary : mapping
        The sample summary (:func:`spermtrack.kinematics.summarize` plus provenance).
    images : mapping of str to bytes
        PNG images by caption, shown in order.
    settings : mapping
        The analysis settings and versions, shown for provenance.
    files : sequence of str
        Output files beside the report, linked.
    notes : sequence of str
        Warnings for the user.
    """
    from spermtrack.drawing import GRADE_NAMES, grade_colour_rgb

    pct = summary.get("percent", {}) or {}
    ci = summary.get("interval_95", {}) or {}
    counts = summary.get("counts", {}) or {}
    cal = summary.get("calibration", {}) or {}
    graded = counts.get("graded", 0)
    result = (f"Progressive {_pct_ci(pct, ci, 'progressive')}, non-progressive {_pct_ci(pct, ci, 'non_progressive')}, "
              f"immotile {_pct_ci(pct, ci, 'immotile')} of {graded} graded tracks "
              f"({counts.get('ungraded', 0)} too short, broken or not sperm: ungraded).")
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{grade_colour_rgb(g)}"></span>{_e(GRADE_NAMES[g])}</td>'
        f'<td class="num">{_num(pct.get(g), unit=" %")}</td><td class="num">{_interval(ci.get(g))}</td>'
        f'<td class="num">{counts.get(g, 0)}</td></tr>'
        for g in GRADES)
    limits = summary.get("who_reference_limits", {}) or {}
    meets = summary.get("meets_who_reference_limits") or {}
    derived = "".join(
        f'<tr><td>{_e(name)}</td><td class="num">{_num(pct.get(key), unit=" %")}</td>'
        f'<td class="num">{_interval(ci.get(key))}</td><td>{_e(ref)}</td></tr>'
        for key, name, ref in (
            ("progressive", "progressive (a + b)", _verdict(meets, limits, "progressive")),
            ("non_progressive", "non-progressive (c)", ""),
            ("immotile", "immotile (d)", ""),
            ("motile", "total motility (a + b + c)", _verdict(meets, limits, "motile"))))
    assessed = summary.get("who_min_assessed", 200)
    count_note = (f"WHO 2021 asks for at least {assessed} spermatozoa to be assessed; {graded} were graded here"
                  + (": the intervals are wide, read the percentages with them." if graded < assessed else "."))
    means = summary.get("motile_means", {}) or {}
    mean_rows = "".join(f'<tr><td>{_e(_MEAN_NAMES.get(k, k))}</td><td class="num">{_num(v, ".2f")}</td></tr>'
                        for k, v in means.items())
    noise = summary.get("noise", {}) or {}
    figures = "".join(f"<h3>{_e(caption)}</h3>{_img(png, caption)}" for caption, png in images.items())
    if "annotated.mp4" in files:  # H.264 (spermtrack.io.video.write_video): browsers play it beside the report
        figures = ('<h3>Annotated video</h3><video controls muted preload="metadata" src="annotated.mp4" '
                   'style="max-width:100%"></video>' + figures)
    links = " &middot; ".join(f'<a href="{_e(name)}">{_e(name)}</a>' for name in files)
    note_html = "".join(f'<p class="warn">{_e(n)}</p>' for n in notes)
    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = f"""
<h1>Motility of {_e(video_id)}</h1>
<p class="muted">{_e(source)} &middot; {_num(cal.get('fps'), '.2f')} frames/s, {_e(cal.get('um_per_px', '?'))} um per
pixel &middot; analysed {created} by spermtrack</p>
<p class="result">{_e(result)}</p>
{_look_html(summary.get('look'))}
{note_html}
<h2>WHO 2021 grades</h2>
<table><tr><th>grade</th><th>% of graded</th><th>95 % interval</th><th>tracks</th></tr>{rows}</table>
<table><tr><th>category</th><th>%</th><th>95 % interval</th><th>reference</th></tr>{derived}</table>
<p>{_e(count_note)} The intervals are Wilson score intervals over the graded tracks; a reference limit inside
the interval reads "uncertain".</p>
<p class="muted">{_e(_noise_text(noise))}</p>
{_per_sperm_html(summary.get('per_sperm_model'), pct)}
<h2>Mean kinematics of motile tracks (a + b + c)</h2>
<table>{mean_rows or '<tr><td>no motile track</td></tr>'}</table>
{_how_to_read((summary.get('config') or {}).get('name', '?'))}
<p>{_e(_rule_text(summary.get('config') or {}))}</p>
<h2>Figures</h2>
{figures}
<h2>Files</h2>
<p>{links or 'none'}</p>
<h2>Settings and versions</h2>
<details><summary>show</summary><pre>{_e(json.dumps(settings, indent=2, default=str))}</pre></details>
"""
    return _page(f"spermtrack: {video_id}", body)


def archive_index_html(rows: Sequence[Mapping], *, title: str = "spermtrack analysis",
                       skipped: Sequence[tuple[str, str]] = ()) -> str:
    """The ``report.html`` index of an archive: one row per video, linking to its own report.

    Parameters
    ----------
    rows : sequence of mapping
        ``video``, ``status`` (``done``, ``skipped``, ``failed`` or ``not run``), ``error``,
        ``progressive_pct``, ``non_progressive_pct``, ``immotile_pct``, ``graded``, ``report`` (relative
        link; empty, None or NaN when the video has no folder).
    title : str
        Page heading.
    skipped : sequence of (str, str)
        Entries of the archive that are not videos, with the reason.
    """
    from urllib.parse import quote

    body_rows = []
    for r in rows:
        report = r.get("report")
        has_link = isinstance(report, str) and bool(report)
        link = f'<a href="{_e(quote(report))}">{_e(r["video"])}</a>' if has_link else _e(r["video"])
        status = r.get("status", "")
        error = r.get("error")
        error = error if isinstance(error, str) else ""
        if status == "failed" or (status == "not run" and not has_link):
            cells = f'<td colspan="4" class="err">{_e(error)}</td>'
        else:
            cells = "".join(f'<td class="num">{_num(r.get(k), unit=" %")}</td>'
                            for k in ("progressive_pct", "non_progressive_pct", "immotile_pct")) + \
                f'<td class="num">{_num(r.get("graded"), ".0f")}</td>'
        body_rows.append(f"<tr><td>{link}</td><td>{_e(status)}</td>{cells}</tr>")
    failed = sum(1 for r in rows if r.get("status") == "failed")
    not_run = sum(1 for r in rows if r.get("status") == "not run")
    skipped_html = ""
    if skipped:
        items = "".join(f"<li>{_e(name)}: {_e(why)}</li>" for name, why in skipped)
        skipped_html = f'<p class="warn">Not analysed ({len(skipped)}): not videos.</p><ul>{items}</ul>'
    body = f"""
<h1>{_e(title)}</h1>
<p class="result">{len(rows)} video(s); {failed} failed{f"; {not_run} not run (interrupted)" if not_run else ""}.
The per-video table is in <a href="summary.csv">summary.csv</a>.</p>
<table><tr><th>video</th><th>status</th><th>progressive</th><th>non-progressive</th><th>immotile</th>
<th>graded tracks</th></tr>{''.join(body_rows)}</table>
{skipped_html}
{_how_to_read('see each video')}
"""
    return _page(title, body)


def _table(df, *, digits: int = 2) -> str:
    """A DataFrame as an HTML table (numbers right-aligned, NaN as n/a)."""
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(f'<td class="num">{_num(v, f".{digits}f") if isinstance(v, float) else v}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def crosscheck_html(errors, disagreements, table, images: Mapping[str, bytes], record: Mapping) -> str:
    """The ``crosscheck.html`` page: MAE per source, the agreement plots, disagreements, per-video values.

    Parameters
    ----------
    errors, disagreements, table : pandas.DataFrame
        The tables of :class:`spermtrack.crosscheck.run.CrosscheckResult`.
    images : mapping of str to bytes
        Agreement plot (PNG) per source.
    record : mapping
        Settings, folds, notes and timings.
    """
    mae = errors.pivot_table(index="source", columns="category", values="mae", sort=False)
    mae = mae.reindex(columns=[c for c in ("progressive", "non_progressive", "immotile", "all") if c in mae.columns])
    seconds = errors.groupby("source", sort=False)["seconds"].first()
    summary = mae.assign(seconds=seconds).reset_index()
    inputs = record.get("inputs", {})
    stages = inputs.get("stages", inputs)  # the stage config; flat in records written before it was one
    plots = "".join(f"<h3>{_e(source)}</h3>{_img(png, f'{source} against the truth')}" for source, png in images.items())
    notes = "".join(f'<p class="warn">{_e(n)}</p>' for n in record.get("notes", []))
    body = f"""
<h1>Cross-check: tracking path and motility regressors</h1>
<p class="muted">{_e(record.get('dataset', ''))} &middot; {len(table)} videos &middot; {_e(record.get('models_text', ''))}
&middot; tracking path {_e(stages.get('detector'))} + {_e(stages.get('tracker'))} +
{_e(stages.get('preset'))}</p>
{notes}
<h2>Mean absolute error against the truth (percentage points, lower is better)</h2>
{_table(summary)}
<p class="muted">The tracking path grades every tracked sperm and counts the grades; each regressor predicts the
proportions of a video directly from its pixels (or, for <code>trackfeat</code>, from histograms of its tracks),
trained on synthetic videos (the shipped checkpoints) or on the other folds' videos only (with training).
<code>zeror</code> predicts the training mean: a model that does not beat it
has learnt nothing. Seconds: the time each source took (inputs that were already cached cost nothing).</p>
<h2>Agreement with the truth</h2>
<p class="muted">Top: each video's value against the truth (the line is perfect agreement). Bottom: Bland-Altman,
the difference against the mean, with the bias (solid) and the 95 % limits of agreement (dashed).</p>
{plots}
<h2>All agreement statistics</h2>
{_table(errors, digits=3)}
<h2>Where tracking and a regressor disagree by more than {_e(record.get('threshold_text', ''))}</h2>
{_table(disagreements, digits=1) if len(disagreements) else '<p>Nowhere.</p>'}
<h2>Per video (percent)</h2>
{_table(table.reset_index(), digits=1)}
<h2>Settings</h2>
<details><summary>show</summary><pre>{_e(json.dumps(record, indent=2, default=str))}</pre></details>
"""
    return _page("spermtrack cross-check", body)
