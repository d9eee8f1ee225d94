"""Entity precision, recall and F1 per label on CoNLL-2003 English, through the app's own services.

    python bench/quality.py /work/data/conll2003                    # everything below
    python bench/quality.py DIR --pipeline en_core_web_sm           # pretrained pipelines to try (default:
                                                                    # every installed spaCy package)
    python bench/quality.py DIR --sizes 25,50 --folds 2             # a shorter learning curve
    python bench/quality.py DIR --skip-curve                        # default suggester and pipelines only
    python bench/quality.py DIR --curve-from en_core_web_sm         # a second learning curve, in a project
                                                                    # that chose this pretrained pipeline
                                                                    # (its model starts from it)

DIR holds `eng.train` and `eng.testa` (checked against their published sha256). Only the development
split `eng.testa` is ever measured on; `eng.testb`, the test split, is never opened (the product side
keeps it to check our claims).

Set-up, all through the app: a project with CoNLL's types PER, ORG, LOC, MISC and an empty KB;
`eng.testa` imported (`--format conll`) into a second project's gold, the reference; `eng.train`
imported into an "imported" set of the first project. Then it prints, for `eng.testa`:
1. the default suggester (shipped lists and rules, labels mapped by name: GPE->LOC, NORP->MISC, DATE
   dropped) with an empty KB;
2. each pretrained pipeline in `add` and in `replace` mode (the project's pipeline setting);
2b. with `--weigh-on 25,50,200` (the default), each pretrained pipeline in `add` mode weighed on that many
   curated gold documents of `eng.train` (the project's gold, imported curated, first documents first):
   the pipeline's entities are laid over the gazetteer and rules by what that gold measured
   (`weigh_pipeline`); printed with the rules alone and `replace` mode in the same project (its gold
   mentions feed the gazetteer of all three);
3. the learning curve: an annotator copies the imported annotations of the first 25, 50, 200 and all
   946 training documents into their own sets and submits them (one versioned edit and one submit per
   article); the project's learning loop starts training by itself when its threshold is reached; the
   bench runs that queued job here, then measures the active suggester (and the new version, if it
   stayed inactive). The project has no pretrained pipeline, so its model learns from the blank one;
4. with `--curve-from REF`, the same curve in a third project that chose the pretrained pipeline REF:
   its model starts from that pipeline's NER (encoder and hidden layer) and learns the project's labels.
The machine's load average is printed with each figure: CPU is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from _harness import bench_database

HASHES = {
    "eng.train": "cfc6fe789f2661d1cec407fa5a439bec8fa883dc6048142b6b1255d2855e43f0",
    "eng.testa": "9c97e982147fe9fdc2e27335c61babd8ae63a6940786dab9a4010b8498f8d898",
}
TYPES = ["PER", "ORG", "LOC", "MISC"]


def check_files(folder: Path) -> dict[str, Path]:
    found = {}
    for name, expected in HASHES.items():
        path = folder / name
        if not path.is_file():
            raise SystemExit(f"{path} is missing: copy eng.train and eng.testa of CoNLL-2003 English there.")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected:
            raise SystemExit(f"{path} has sha256 {digest}, not the published {expected}.")
        found[name] = path
    return found


def split_documents(path: Path) -> list[str]:
    """The file's documents, each from its `-DOCSTART-` line (the first may have none), as CoNLL text."""
    documents: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("-DOCSTART-") or not documents:
            documents.append("")
        documents[-1] += line
    return [
        document
        for document in documents
        if any(line.strip() and not line.startswith("-DOCSTART-") for line in document.splitlines())
    ]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def show(title: str, scores: dict, seconds: float) -> None:
    print(f"\n== {title}   ({seconds:.0f} s, {load()})", flush=True)
    for label in [*TYPES, "ALL"]:
        s = scores.get(label)
        if s is None:
            continue
        print(
            f"  {label:<5} P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}   (tp {s.tp}, fp {s.fp}, fn {s.fn})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--pipeline", action="append", default=None, help="a spaCy package or directory")
    parser.add_argument("--sizes", default="25,50,200,946")
    parser.add_argument("--folds", type=int, default=None, help="the project's cross-validation folds")
    parser.add_argument("--skip-curve", action="store_true")
    parser.add_argument("--skip-pipelines", action="store_true")
    parser.add_argument("--curve-from", default=None, help="a pretrained pipeline: a second learning curve")
    parser.add_argument("--skip-blank-curve", action="store_true", help="with --curve-from: that curve only")
    parser.add_argument(
        "--weigh-on",
        default="25,50,200",
        help="curated gold documents to weigh each pipeline on ('' for none)",
    )
    args = parser.parse_args()
    files = check_files(args.folder.resolve())
    sizes = [int(size) for size in args.sizes.split(",") if size]
    with bench_database("conll") as vendor:
        from django.contrib.auth import get_user_model

        from annotator.annotations.editing import edit_set
        from annotator.annotations.models import AnnotationSet, SetKind, Span
        from annotator.annotations.services import get_or_create_own_set, submit_set
        from annotator.articles.models import Article
        from annotator.interchange.options import ImportOptions
        from annotator.interchange.services import start_import
        from annotator.jobs.models import Job, JobKind, JobStatus
        from annotator.jobs.services import run_job
        from annotator.projects.models import EntityType, Project, Role
        from annotator.projects.services import add_member
        from annotator.suggestions import nlp, sources
        from annotator.suggestions.engine import SuggestionRunner, forget_merges, spec_for
        from annotator.suggestions.generate import active_suggester, ensure_active_suggester
        from annotator.suggestions.layering import weigh_pipeline
        from annotator.suggestions.models import SuggesterSettings, SuggesterVersion
        from annotator.suggestions.scoring import score

        print(f"database: {vendor}; CoNLL-2003 English from {args.folder} (hashes checked)", flush=True)
        users = get_user_model()
        manager = users.objects.create_user("manager")
        annotator = users.objects.create_user("annotator")
        colours = ["#ffd6a5", "#caffbf", "#9bf6ff", "#e2e2df"]

        def project(name: str) -> Project:
            # One annotator per article whose submitted sets become curated gold: the gold mentions
            # then feed the gazetteer, as in any single-annotator project that promotes.
            made = Project.objects.create(
                name=name, slug=name.lower(), language="en", annotators_per_article=1, promote_to_gold=True
            )
            for index, type_name in enumerate(TYPES):
                EntityType.objects.create(
                    project=made, name=type_name, colour=colours[index], key=type_name[0].lower()
                )
            add_member(project=made, user=manager, role=Role.MANAGER)
            add_member(project=made, user=annotator, role=Role.ANNOTATOR)
            return made

        def imported(into: Project, path: Path, **options) -> None:
            job = start_import(
                project=into, path=path, file_name=path.name, options=ImportOptions(format="conll", **options),
                by=manager, delete_after=False, queue=False,
            )  # fmt: skip
            job = run_job(job)
            assert job.status == JobStatus.SUCCEEDED, (job.message, job.errors[:3])
            print(f"  imported {path.name}: {job.message}", flush=True)

        started = time.perf_counter()
        study, reference = project("CoNLL"), project("CoNLL-dev")
        imported(reference, files["eng.testa"], set_kind=SetKind.GOLD)
        imported(study, files["eng.train"], set_name="conll")
        second = None
        if args.curve_from and not args.skip_curve:
            second = project("CoNLL-from-pipeline")
            imported(second, files["eng.train"], set_name="conll")
        print(f"  set-up in {time.perf_counter() - started:.0f} s", flush=True)
        dev = list(Article.objects.filter(project=reference).order_by("pk").values_list("pk", "text"))
        expected = [
            ((article, start, end), label)
            for article, start, end, label in Span.objects.filter(
                annotation_set__article__project=reference
            ).values_list("annotation_set__article_id", "start", "end", "entity_type__name")
        ]
        print(f"  eng.testa: {len(dev)} documents, {len(expected)} entities", flush=True)

        def measure(title: str, version: SuggesterVersion | None = None, of: Project = study) -> dict:
            nlp.forget_suggesters()
            version = version or ensure_active_suggester(project=of)
            started = time.perf_counter()
            runner = SuggestionRunner(project_id=of.pk, spec=spec_for(version, "en"), link_limit=0)
            predicted = [
                ((article, e.start, e.end), e.entity_type)
                for (article, _), suggested in zip(dev, runner.run(text for _, text in dev), strict=True)
                for e in suggested.entities
            ]
            scores = score(predicted, expected)
            show(f"{title}: {version}", scores, time.perf_counter() - started)
            return scores

        def weighed_add(ref: str, sizes: list[int]) -> None:
            """The pipeline in add mode, weighed on the first `sizes` training documents as curated gold of
            a project of its own; the rules alone and replace mode in the same project beside it."""
            of = project(f"CoNLL-weighed-{len(Project.objects.all())}")
            settings_of = SuggesterSettings.objects.create(project=of, learn=False, use_site_pipeline=False)
            documents = split_documents(files["eng.train"])
            done = 0
            with tempfile.TemporaryDirectory(prefix="conll-gold-") as folder:
                for size in sizes:
                    part = Path(folder) / f"eng.train-{done}-{size}"
                    part.write_text("".join(documents[done:size]), encoding="utf-8")
                    imported(of, part, set_kind=SetKind.GOLD, curated=True)
                    done = size
                    settings_of.refresh_from_db()  # what the last weighing stored stays
                    settings_of.pipeline, settings_of.pipeline_mode = ref, "add"
                    settings_of.save()
                    started = time.perf_counter()
                    weighed = weigh_pipeline(project=of)
                    assert weighed is not None
                    print(
                        f"\n== 2b. {ref} weighed on {weighed.articles} curated gold documents in "
                        f"{time.perf_counter() - started:.0f} s ({load()}): the gazetteer and rules alone F1 "
                        f"{weighed.others_f1:.3f} there; keep threshold {weighed.keep:.3f}",
                        flush=True,
                    )
                    stored = settings_of.__class__.objects.get(pk=settings_of.pk).measured["layered"]
                    for key, (right, total, kept_right, kept) in stored[weighed.source]["evidence"].items():
                        print(
                            f"  {key:<40} {right:>5}/{total:<5} displaced {kept_right:>5}/{kept}", flush=True
                        )
                    found = {}
                    settings_of.refresh_from_db()
                    for mode in ("add", "replace", "rules"):
                        settings_of.pipeline = "" if mode == "rules" else ref
                        settings_of.pipeline_mode = "" if mode == "rules" else mode
                        settings_of.save()
                        SuggesterVersion.objects.filter(project=of).update(is_active=False)
                        title = f"2b. weighed on {size} gold documents: {mode}"
                        found[mode] = measure(title, of=of)["ALL"].f1
                    print(
                        f"  weighed on {size}: add {found['add']:.3f}, replace {found['replace']:.3f}, "
                        f"rules alone {found['rules']:.3f}",
                        flush=True,
                    )

        chosen, _ = SuggesterSettings.objects.get_or_create(project=study)
        chosen.learn = False
        if args.folds:
            chosen.folds = args.folds
        chosen.save()
        mapping = sources.effective_label_map(study)
        print(
            "  label map (defaults by name): "
            + ", ".join(f"{label}->{target or '(dropped)'}" for label, target in mapping.items()),
            flush=True,
        )
        measure("1. default suggester, empty KB")

        if not args.skip_pipelines:
            pipelines = args.pipeline or [p.ref for p in sources.available_pipelines()]
            if not pipelines:
                print("\n== 2. no pretrained pipeline is installed here (pip install one, or --pipeline DIR)")
            for ref in pipelines:
                found = {}
                for mode in ("add", "replace"):
                    chosen.use_site_pipeline, chosen.pipeline, chosen.pipeline_mode = False, ref, mode
                    chosen.save()
                    SuggesterVersion.objects.filter(project=study).update(is_active=False)
                    found[mode] = measure(f"2. pretrained pipeline {ref}, {mode} mode")["ALL"].f1
                print(
                    f"  add {found['add']:.3f} {'>=' if found['add'] >= found['replace'] else '<'} "
                    f"replace {found['replace']:.3f}",
                    flush=True,
                )
            chosen.use_site_pipeline, chosen.pipeline, chosen.pipeline_mode = True, "", ""
            chosen.save()
            SuggesterVersion.objects.filter(project=study).update(is_active=False)
            ensure_active_suggester(project=study)
            weigh_sizes = [int(size) for size in args.weigh_on.split(",") if size]
            for ref in pipelines if weigh_sizes else []:
                weighed_add(ref, weigh_sizes)

        def learning_curve(of: Project, heading: str, sizes: list[int]) -> None:
            settings_of = SuggesterSettings.objects.get(project=of)
            articles = list(Article.objects.filter(project=of).order_by("pk"))
            imported_sets = {
                s.article_id: s
                for s in AnnotationSet.objects.filter(article__project=of, kind=SetKind.IMPORTED)
            }
            print(f"\n== {heading} learning curve: {len(articles)} training documents", flush=True)
            done = 0
            for size in sizes:
                size = min(size, len(articles))
                settings_of.refresh_from_db()
                settings_of.learn = True
                if settings_of.learned_articles == 0:
                    settings_of.learn_after = size
                else:
                    settings_of.retrain_every = size - settings_of.learned_articles
                settings_of.save()
                started = time.perf_counter()
                for article in articles[done:size]:
                    own = get_or_create_own_set(article=article, user=annotator)
                    spans = imported_sets[article.pk].spans.select_related("entity_type")
                    with edit_set(own, expected_version=own.version, by=annotator) as editor:
                        for span in spans:
                            editor.add_span(start=span.start, end=span.end, entity_type=span.entity_type)
                    submit_set(annotation_set=own, by=annotator, expected_version=own.version)
                # Outside a test, submit_set's commit hook queued the training job for a worker: run it here.
                done = size
                job = Job.objects.filter(
                    project=of, kind=JobKind.TRAIN_SUGGESTER, status=JobStatus.QUEUED
                ).first()
                submitted = time.perf_counter() - started
                if job is None:
                    print(
                        f"  {size} documents submitted in {submitted:.0f} s; no training was started!",
                        flush=True,
                    )
                    continue
                started = time.perf_counter()
                job = run_job(job)
                job_seconds = time.perf_counter() - started
                print(
                    f"  {size} documents submitted in {submitted:.0f} s; training job ({job.params}) "
                    f"{job.status} in {time.perf_counter() - started:.0f} s ({load()}): {job.message}",
                    flush=True,
                )
                newest = SuggesterVersion.objects.filter(project=of, kind="trained").order_by("-pk").first()
                if newest is None:
                    continue
                print(f"  recipe: {newest.config.get('recipe')}", flush=True)
                config = newest.config
                print(
                    f"  epochs: at most {config.get('epochs')}, patience {config.get('patience')}; the folds' "
                    f"best {config.get('fold_best_epochs')}; the final model "
                    f"{config.get('final_epochs') or 'early-stopped'} ({config.get('epochs_run')} run)",
                    flush=True,
                )
                active = active_suggester(of.pk)
                scores = measure(f"{heading} after {size} documents, active", active, of)
                new_scores = scores
                if active != newest:
                    new_scores = measure(
                        f"{heading} after {size} documents, the new version (inactive)", newest, of
                    )
                # The same version with the merge by source and type alone (no situations): what the
                # situated evidence adds on eng.testa.
                settings_of.refresh_from_db()
                situated = settings_of.measured.pop("situated", None)
                settings_of.save(update_fields=["measured"])
                forget_merges()
                measure(
                    f"{heading} after {size} documents, {newest} merged by source and type only", newest, of
                )
                settings_of.measured["situated"] = situated
                settings_of.save(update_fields=["measured"])
                forget_merges()
                cv = {label: values["f1"] for label, values in (newest.metrics.get("entities") or {}).items()}
                # The version's own figures next to eng.testa's: its own are evidence only where they agree.
                print(
                    f"  {newest}: cross-validated F1 {cv.get('ALL', 0):.3f}"
                    f" (merged as before this training: {newest.metrics.get('merged_before_f1', 0):.3f}),"
                    f" the folds' own held-out F1 {config.get('fold_held_out_f1')};"
                    f" eng.testa F1 {new_scores['ALL'].f1:.3f}",
                    flush=True,
                )
                curve.append((size, job_seconds, cv, new_scores, str(active), scores["ALL"].f1))

        curve: list = []

        def summary(heading: str) -> None:
            print(
                f"\n== {heading} the curve on eng.testa (the newest version; CV: its cross-validated F1)",
                flush=True,
            )
            print(
                "  docs  job s   " + "  ".join(f"{label:<11}" for label in [*TYPES, "ALL"]) + "  active",
                flush=True,
            )
            for size, seconds, cv, scores, active, active_f1 in curve:
                cells = "  ".join(
                    f"{scores[label].f1:.3f} ({cv.get(label, 0):.2f})" if label in scores else " " * 12
                    for label in [*TYPES, "ALL"]
                )
                print(f"  {size:>4}  {seconds:>6.0f}  {cells}  {active} {active_f1:.3f}", flush=True)
            curve.clear()

        if args.skip_curve:
            return
        if not (second is not None and args.skip_blank_curve):
            learning_curve(study, "3.", sizes)
            summary("3.")
        if second is not None:
            settings_of = SuggesterSettings.objects.get_or_create(project=second)[0]
            settings_of.learn, settings_of.folds = False, chosen.folds
            settings_of.use_site_pipeline, settings_of.pipeline = False, args.curve_from
            settings_of.pipeline_mode = "add"
            settings_of.save()
            learning_curve(second, f"4. starting from {args.curve_from}:", sizes)
            summary(f"4. starting from {args.curve_from}:")


if __name__ == "__main__":
    main()
