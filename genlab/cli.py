"""The `genlab` command: release, check, grade, demos, site, slides, data, zoo, new-topic."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genlab.course import LECTURES, REPO_ROOT, resolve_topic, topics
from genlab.tables import format_table  # also imported from here by lecture 09


def cmd_release(args: argparse.Namespace) -> int:
    from genlab.grader.release import release

    for topic in [resolve_topic(args.topic)] if args.topic else topics():
        print(f"released {topic} -> {release(topic).relative_to(REPO_ROOT)}")
    return 0


def _replay_rows(topic: str) -> list[tuple[str, str, str]]:
    import tempfile

    from genlab.grader.mutation import replay
    from genlab.grader.validity import load_mutants, load_nulls, quality_tests

    nulls = load_nulls(topic)
    quality = quality_tests(topic)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes, reference_failures = replay(topic, load_mutants(topic) + nulls, cwd=Path(tmp))
    rows = [("solution (replay)", f"failed {', '.join(reference_failures)}" if reference_failures
             else "all tests pass", "FAIL" if reference_failures else "ok")]
    for o in outcomes:
        failed = f"fails {', '.join(o.failed_tests) or 'nothing'} ({o.seconds:.1f} s)"
        if o.mutant in nulls:
            earned = [g for g, owner in quality.items() if owner == o.mutant.cell and g not in o.failed_tests]
            rows.append((o.mutant.name, failed, f"EARNED {', '.join(earned)}" if earned else "held"))
        else:
            rows.append((f"mutant {o.mutant.name}", failed, "caught" if o.caught else "MISSED"))
    return rows


def cmd_check(args: argparse.Namespace) -> int:
    from genlab.grader.validity import check

    failed = 0
    for topic in [resolve_topic(args.topic)] if args.topic else topics():
        rows = _replay_rows(topic) if args.replay else check(topic)
        print(f"\n{topic}\n" + format_table(rows, ("submission", "outcome", "verdict")))
        mutants = [r for r in rows if r[0].startswith("mutant")]
        caught = sum(r[2] == "caught" for r in mutants)
        if mutants:
            print(f"mutation score: {caught}/{len(mutants)}")
        failed += sum(r[2] in ("FAIL", "MISSED") or r[2].startswith("EARNED") for r in rows)
    return 1 if failed else 0


def cmd_grade(args: argparse.Namespace) -> int:
    from genlab.grader.grading import grade, parse_due, parse_shard
    from genlab.grader.sandbox import Limits

    try:
        shard = parse_shard(args.shard) if args.shard else None
        due = parse_due(args.due) if args.due else None
    except ValueError as error:
        raise SystemExit(f"genlab grade: {error}") from None
    topic = resolve_topic(args.assignment)
    out = Path(args.out or Path(args.course or "build") / "grading" / topic)
    limits = Limits(wall_s=args.notebook_timeout, memory_mb=args.memory_mb)
    results = grade(args.submissions, topic, out, workers=args.workers, limits=limits,
                    cell_timeout=args.cell_timeout, regrade=args.regrade, shard=shard, due=due, course=args.course)
    _print_results(results, out, Path(args.course) if args.course else None)
    if shard:
        print(f"this is shard {shard[0]}/{shard[1]}: when every shard is done, bring their folders together "
              f"and run `genlab grade merge DIR... --out OUT`")
    return 0


def _print_results(results, out: Path, course: Path | None = None) -> None:
    late = [r for r in results if r.late is not None]
    rows = [(r.student, r.status, f"{r.score:g}/{r.autograded_max:g}"
             if r.status in ("graded", "tampered", "timeout", "memory") else "-",
             *([f"{r.late} s" if r.late is not None else ""] if late else []), r.reason[:110]) for r in results]
    print(format_table(rows, ("student", "status", "score", *(["late"] if late else []), "reason")))
    print(f"\ngrades: {out / 'grades.csv'}\nfeedback: {(course or out) / 'feedback'}")
    if course:
        print(f"the course's gradebook: {course / 'gradebook.db'} (its Formgrader shows these grades)")
    ungraded = [r for r in results if r.status != "graded"]
    if ungraded:
        print(f"{len(ungraded)} of {len(results)} submissions need attention (status is not 'graded')")
    if late:
        print(f"{len(late)} of {len(results)} submissions came in after the due date (column 'late', in seconds)")


def cmd_grade_merge(args: argparse.Namespace) -> int:
    from genlab.grader.merge import MergeError, merge

    try:
        results, warnings = merge(args.dirs, args.out)
    except MergeError as error:
        raise SystemExit(f"genlab grade merge: {error}") from None
    _print_results(results, Path(args.out))
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0


def cmd_demos(args: argparse.Namespace) -> int:
    from genlab.demos import run_lectures
    from genlab.profiles import profile

    name = args.profile or profile()
    paths = sorted(LECTURES.glob("*.ipynb"))
    if args.topic:
        paths = [p for p in paths if args.topic in (p.stem, p.stem.split("-")[0], p.stem.split("-")[0].lstrip("0"))]
        if not paths:
            raise SystemExit(f"no lecture matches {args.topic!r} in {LECTURES}")
    runs = run_lectures(paths, name, Path(args.out))
    print(format_table([(r.lecture, r.profile, f"{r.seconds:.1f}", "ok" if r.error is None else r.error)
                        for r in runs], ("lecture", "profile", "seconds", "result")))
    failed = [r for r in runs if r.error is not None]
    print(f"\nHTML in {args.out}" + (f"; {len(failed)} of {len(runs)} lectures failed (their pages show the error)"
                                     if failed else ""))
    return 1 if failed else 0


def cmd_site(args: argparse.Namespace) -> int:
    from genlab.profiles import profile
    from genlab.site import SiteError, build

    name = args.profile or profile()
    paths = sorted(LECTURES.glob("*.ipynb"))
    if args.topics:
        wanted = [resolve_topic(t) for t in args.topics]
        paths = [p for p in paths if p.stem in wanted]
        if len(paths) != len(wanted):
            raise SystemExit(f"no lecture for {sorted(set(wanted) - {p.stem for p in paths})} in {LECTURES}")
    print(f"building the site ({name} profile, {len(paths)} lectures) into {args.out} ...", flush=True)
    try:
        result = build(name, Path(args.out), lectures=paths, cache=args.cache and Path(args.cache))
    except SiteError as error:
        print(error, file=sys.stderr)
        return 1
    ran = ", ".join(result.executed) if result.executed else "none (all from the cache)"
    print(f"site built in {result.seconds:.0f} s: {result.out / 'index.html'}\nlectures executed: {ran}")
    return 0


def cmd_slides(args: argparse.Namespace) -> int:
    import nbformat

    from genlab.slides import problems, write_slides

    paths = sorted(LECTURES.glob("*.ipynb"))
    if args.topics:
        wanted = [resolve_topic(t) for t in args.topics]
        paths = [p for p in paths if p.stem in wanted]
    failed = 0
    for path in paths:
        if args.check:
            found = problems(nbformat.read(path, as_version=4))
            failed += bool(found)
            print(f"{path.stem}: " + ("ok" if not found else "; ".join(found)))
        else:
            print(f"{path.stem}: {write_slides(path, reset=args.reset)} cells given a slide type")
    return 1 if failed else 0


DATASETS = ("fashion-mnist", "mnist", "emoji", "shapes", "unpaired-shapes", "mixtures", "polygons",
            "facades", "horse2zebra")
OPTIONAL = ("mnist", "facades", "horse2zebra")   # missing ones fail `genlab data` only when named


def _describe(name: str, download: bool) -> tuple[str, str, str]:
    """(status, source, contents) of one dataset, loading a little of it."""
    from genlab import data
    from genlab.data import idx, openmoji, translation

    if name in translation.DATASETS:
        spec = translation.DATASETS[name]
        try:
            label, folder = translation.locate(name, download=download)
        except data.DataNotFoundError as error:
            if download:
                return "missing", str(error).splitlines()[0], spec.contents
            return "missing", (f"not found offline; when online: genlab data {name} --download, "
                               "or set GENLAB_DATA"), spec.contents
        return "ok", f"{label} ({folder})", spec.contents
    if name in ("fashion-mnist", "mnist"):
        try:
            label, folder = idx.locate(download=download, dataset=name)
        except data.DataNotFoundError as error:
            return "missing", str(error).splitlines()[0], ""
        x, _ = idx.load_idx(name, "test", limit=1, verbose=False)
        return "ok", f"{label} ({folder})", f"70,000 images {tuple(x.shape[1:])} in [0, 1], 10 classes"
    if name == "emoji":
        try:
            e = data.emoji("all", verbose=False)
        except data.DataNotFoundError as error:
            return "missing", str(error).splitlines()[0], ""
        return "ok", f"shipped {openmoji.EMOJI_FILE}", (f"{len(e)} emoji (3, 32, 32) + line art + "
                                                        f"captions, {len(data.EMOJI_GROUPS)} groups")
    contents = {"shapes": "coloured shapes (3, 32, 32) + captions, masks, edges",
                "unpaired-shapes": "plain ↔ striped shapes with the true translation",
                "mixtures": "2D: 8-ring, 25-grid, swiss-roll",
                "polygons": "closed polygons (2, 96)"}
    return "ok", "procedural (seeded, no files)", contents[name]


def cmd_data(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown dataset {unknown[0]!r}; available: {', '.join(DATASETS)}")
    rows = [(n, *_describe(n, args.download)) for n in names]
    print(format_table(rows, ("dataset", "status", "source", "contents")))
    if args.name and rows[0][1] == "missing":
        from genlab.data import DataNotFoundError, emoji, idx, translation

        try:
            if args.name == "emoji":
                emoji(verbose=False)
            elif args.name in translation.DATASETS:
                translation.locate(args.name)
            else:
                idx.locate(dataset=args.name)
        except DataNotFoundError as error:
            print(f"\n{error}")
    return 0 if all(r[1] == "ok" for r in rows if r[0] not in OPTIONAL or args.name) else 1


def cmd_zoo(args: argparse.Namespace) -> int:
    if args.action == "export":
        from genlab.export import export

        if not args.topic:
            raise SystemExit("genlab zoo export needs a topic, e.g. genlab zoo export 09 --profile cpu --seed 0")
        for path, meta in export(args.topic, args.profile, args.seed, write=not args.out, out=args.out):
            print(f"wrote {path}: {meta['figure']}")
        return 0
    from genlab.recipes import main as zoo_main

    return zoo_main([args.action])


def cmd_new_topic(args: argparse.Namespace) -> int:
    from genlab.scaffold import new_topic

    for path in new_topic(args.slug, args.title):
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    number = args.slug[:2]
    print(f"next: replace the example task, then `genlab release {number}`, "
          f"`genlab check {number} --replay` and the calibration (docs/new-topic.md)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate assignments/ from solutions/ (nbgrader)")
    p.add_argument("topic", nargs="?", help="topic slug or number (default: all)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("check", help="grade the solution, the blank release and the mutants; print a table")
    p.add_argument("topic", nargs="?", help="topic slug or number (default: all)")
    p.add_argument("--replay", action="store_true",
                   help="fast: replay each task's mutants in one kernel instead of grading each")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/<topic>/<topic>.ipynb")
    p.add_argument("submissions", help="folder with one subfolder per student")
    p.add_argument("--assignment", "-a", required=True, help="topic slug or number")
    p.add_argument("--out", help="where the gradebook, grades.csv and feedback go "
                                 "(default build/grading/<topic>; with --course COURSE/grading/<topic>)")
    p.add_argument("--course", metavar="DIR",
                   help="grade into the nbgrader course folder DIR (e.g. the hub's): the grades go into its "
                        "gradebook.db, the feedback into its feedback/, so that its Formgrader shows them and "
                        "`nbgrader release_feedback` finds them; grades entered in Formgrader survive a "
                        "re-grade. Run as root, the files written there are given to DIR's owner")
    p.add_argument("--workers", "-j", type=int, default=1, help="students graded in parallel (default 1)")
    p.add_argument("--regrade", action="store_true",
                   help="grade everyone again (default: keep results journaled with the same settings)")
    p.add_argument("--notebook-timeout", type=float, default=600, help="seconds for a whole notebook (600)")
    p.add_argument("--cell-timeout", type=int, help="seconds per cell (default: autograder/nbgrader_config.py)")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory of a submission's kernel (4096)")
    p.add_argument("--shard", metavar="K/N", help="grade only shard K of N (1-based; students are assigned by a "
                                                  "hash of their name); join the shards with `genlab grade merge`")
    p.add_argument("--due", metavar="WHEN", help="due date, ISO 8601 (e.g. 2026-12-07T23:59:00+01:00; no zone: UTC): "
                                                 "rows of submissions whose timestamp.txt is later get the "
                                                 "seconds late in the column 'late'")
    p.set_defaults(func=cmd_grade)
    p.epilog = "`genlab grade merge DIR... --out OUT` joins the folders of graded shards (see its --help)."

    p = sub.add_parser("demos", help="execute the lectures and write HTML with their figures")
    p.add_argument("topic", nargs="?", help="one lecture (slug or number); default all")
    p.add_argument("--profile", choices=("ci", "cpu", "gpu"), help="default: this machine's")
    p.add_argument("--out", default="build/lectures")
    p.set_defaults(func=cmd_demos)

    p = sub.add_parser("site", help="build the course site (index of the topics, executed lectures), offline")
    p.add_argument("topics", nargs="*", help="lectures to include (slug or number); default all")
    p.add_argument("--profile", choices=("ci", "cpu", "gpu"), help="default: this machine's")
    p.add_argument("--out", default="build/site")
    p.add_argument("--cache", help="jupyter-cache folder of executed lectures (default build/site-cache/PROFILE)")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("slides", help="give the lectures' cells their slide types (RISE slideshows)")
    p.add_argument("topics", nargs="*", help="lectures (slug or number); default all")
    p.add_argument("--reset", action="store_true", help="apply the rule to every cell, hand-set types too")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a lecture is not a slideshow")
    p.set_defaults(func=cmd_slides)

    p = sub.add_parser("data", help="say where each dataset is found offline (or download it)")
    p.add_argument("name", nargs="?", help=f"one of {', '.join(DATASETS)} (default: all)")
    p.add_argument("--download", action="store_true", help="download into data/cache if missing")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("zoo", help="list or verify the shipped checkpoints, or export a topic's")
    p.add_argument("action", choices=("list", "verify", "export"), nargs="?", default="list")
    p.add_argument("topic", nargs="?", help="export: the topic whose solution notebook makes the checkpoint")
    p.add_argument("--profile", default="cpu", choices=("ci", "cpu", "gpu"), help="export: the training profile")
    p.add_argument("--seed", type=int, default=0, help="export: the seed")
    p.add_argument("--out", help="export: a folder to save in instead of data/checkpoints (no MANIFEST row)")
    p.set_defaults(func=cmd_zoo)

    p = sub.add_parser("new-topic", help="write a new topic's lecture, solution, mutants and README row "
                                         "from the template (docs/new-topic.md)")
    p.add_argument("slug", help="NN-name, e.g. 16-flow-matching")
    p.add_argument("title", help='the title, e.g. "Flow matching"')
    p.set_defaults(func=cmd_new_topic)

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["grade", "merge"]:   # `genlab grade ./merge` grades a folder named merge
        args = _merge_parser().parse_args(argv[2:])
    else:
        args = parser.parse_args(argv)
    return args.func(args)


def _merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genlab grade merge",
        description="Join the output folders of `genlab grade --shard K/N` runs (grades.csv, gradebook.db, "
                    "feedback, autograded notebooks) into one folder. Run it again after a shard is regraded "
                    "or added: students whose grading did not change are left as they are, also their "
                    "grades entered in Formgrader.")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="the --out folder of each shard")
    p.add_argument("--out", required=True, help="the merged folder (not one of the DIRs)")
    p.set_defaults(func=cmd_grade_merge)
    return p


if __name__ == "__main__":
    sys.exit(main())
