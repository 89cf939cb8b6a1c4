"""``slm-agents curate``, ``cluster`` and ``report``: from a store to data, tasks and savings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import CLIError, check_file, open_store, read_records, store_options
from ._group import cli

__all__ = ["cluster", "curate", "report"]

EMBEDDERS = ("minilm", "hashing")


def make_scrubber(scrub: bool) -> Any:
    """A pseudonymising PIIScrubber, or ``None``."""
    if not scrub:
        return None
    from ..curate import PIIScrubber

    return PIIScrubber(mode="pseudonym")


def load_clusterer(path: Path) -> Any:
    """A clusterer saved by ``slm-agents cluster`` (or ``TaskClusterer.save``)."""
    from ..cluster import TaskClusterer

    if not path.is_dir():
        raise CLIError(f"no saved clusterer at {path} (run slm-agents cluster --out {path})")
    try:
        return TaskClusterer.load(path)
    except (OSError, KeyError, ValueError) as exc:
        raise CLIError(f"cannot load the clusterer in {path}: {exc}") from exc


def make_embedder(name: str) -> Any:
    """The embedder named on the command line."""
    from ..cluster import HashingEmbedder, MiniLMEmbedder

    return HashingEmbedder() if name == "hashing" else MiniLMEmbedder()


def task_labels(clusterer: Any, records: list[Any]) -> dict[str, str]:
    """Record id -> task id (as text) from a fitted clusterer; unassigned calls are left out."""
    if not records:
        return {}
    labels = clusterer.predict(records)
    return {r.id: str(int(label)) for r, label in zip(records, labels, strict=True)
            if int(label) >= 0}


@cli.command(short_help="Scrub and curate a store's calls into JSONL splits.")
@store_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for train.jsonl, validation.jsonl, test.jsonl and the curation report.")
@click.option("--scrub/--no-scrub", default=True, show_default=True,
              help="Scrub personal data with the offline PIIScrubber (pseudonyms).")
@click.option("--clusterer", "clusterer_dir", type=click.Path(path_type=Path), default=None,
              help="A clusterer saved by `slm-agents cluster`: label each example with its task.")
@click.option("--dedupe", type=click.Choice(["near", "exact", "none"]), default="near",
              show_default=True, help="Duplicate removal.")
@click.option("--validation", default=0.1, show_default=True, type=click.FloatRange(0, 0.9),
              help="Share of traces in the validation split.")
@click.option("--test", default=0.2, show_default=True, type=click.FloatRange(0, 0.9),
              help="Share of traces in the test split.")
@click.option("--target-size", default=None, type=click.IntRange(1),
              help="Sample down to at most this many examples, balanced across tasks.")
@click.option("--include-human-facing", is_flag=True,
              help="Keep calls whose output was shown to a person.")
@click.option("--seed", default=0, show_default=True, type=int)
def curate(store_path: Path, key: str | None, out: Path, scrub: bool, clusterer_dir: Path | None,
           dedupe: str, validation: float, test: float, target_size: int | None,
           include_human_facing: bool, seed: int) -> None:
    """Scrub, filter and de-duplicate a store's calls into JSONL fine-tuning splits."""
    from ..curate import Curator

    if validation + test >= 1:
        raise CLIError("--validation plus --test must be below 1")
    clusterer = load_clusterer(clusterer_dir) if clusterer_dir is not None else None
    with open_store(store_path, key) as store:
        records = read_records(store)
    tasks = None
    if clusterer is not None:
        tasks = task_labels(clusterer, [r for r in records
                                        if include_human_facing or not r.human_facing])
    scrubber = make_scrubber(scrub)
    curator = Curator(scrubber=scrubber, dedupe=dedupe,  # type: ignore[arg-type]
                      target_size=target_size, seed=seed,
                      include_human_facing=include_human_facing)
    if scrubber is not None:
        click.echo(f"Scrubbing and curating {len(records)} calls...", err=True)
    try:
        dataset = curator.run(records, tasks=tasks)
    finally:
        if scrubber is not None:
            scrubber.close()
    splits = dataset.split(validation=validation, test=test, seed=seed)
    paths = splits.to_jsonl(out, include_meta=True)
    report = curator.report_
    (out / "curation_report.md").write_text(report.to_markdown() + "\n", encoding="utf-8")
    click.echo(report.to_markdown())
    click.echo("")
    for name, path in paths.items():
        click.echo(f"{name:<10} {splits.sizes()[name]:>7} examples -> {path}")
    if not scrub:
        click.echo("Not scrubbed (--no-scrub): the files may hold personal data.")


@cli.command(short_help="Discover the tasks among a store's calls.")
@store_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to save the fitted clusterer in (and report.md).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the task report here: .html (with plots) or .md.")
@click.option("--embedder", type=click.Choice(EMBEDDERS), default="minilm", show_default=True,
              help="minilm: the offline all-MiniLM-L6-v2; hashing: word hashing, no torch.")
@click.option("--min-cluster-size", default=None, type=click.IntRange(2),
              help="Smallest task, in distinct calls [default: chosen from the data].")
@click.option("--include-human-facing", is_flag=True,
              help="Cluster the human-facing calls too.")
@click.option("--seed", default=0, show_default=True, type=int)
def cluster(store_path: Path, key: str | None, out: Path, report_path: Path | None,
            embedder: str, min_cluster_size: int | None, include_human_facing: bool,
            seed: int) -> None:
    """Discover the tasks among a store's calls; save the clusterer and print the task report."""
    from ..cluster import TaskClusterer

    with open_store(store_path, key) as store:
        records = read_records(store, include_human_facing=include_human_facing)
    records = [r for r in records if r.error is None] or records
    clusterer = TaskClusterer(embedder=make_embedder(embedder),
                              min_cluster_size=min_cluster_size, random_state=seed,
                              show_progress=True).fit(records)
    out.mkdir(parents=True, exist_ok=True)
    clusterer.save(out)
    found = clusterer.report()
    markdown = found.to_markdown()
    (out / "report.md").write_text(markdown + "\n", encoding="utf-8")
    if report_path is not None:
        _write(found, report_path)
    click.echo(markdown)
    click.echo(f"\n{found.n_tasks} tasks in {len(records)} calls; clusterer saved in {out}"
               + (f"; report written to {report_path}" if report_path else ""))


def _write(report: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".html", ".htm"):
        report.to_html(path)
    else:
        path.write_text(report.to_markdown() + "\n", encoding="utf-8")


@cli.command(short_help="Write the replacement-potential report (HTML or Markdown).")
@store_options
@click.option("--out", "out_path", default=Path("report.html"), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the report: .html (with plots) or .md.")
@click.option("--clusterer", "clusterer_dir", type=click.Path(path_type=Path), default=None,
              help="A saved clusterer (default: fit one on the store's calls).")
@click.option("--embedder", type=click.Choice(EMBEDDERS), default="minilm", show_default=True,
              help="Embedder of the clusterer fitted when --clusterer is not given.")
@click.option("--registry", "registry_dir", type=click.Path(path_type=Path), default=None,
              help="A flywheel's model registry: its promoted versions' measured quality.")
@click.option("--specialist", "specialist_args", multiple=True, metavar="TASK=PATH",
              help="A saved specialist to evaluate on its task's calls (repeatable).")
@click.option("--period-days", default=None, type=click.FloatRange(min=0, min_open=True),
              help="Days the calls cover [default: first to last call].")
@click.option("--quality-bar", default=0.9, show_default=True, type=click.FloatRange(0, 1),
              help="Agreement with the LLM a specialist needs to be 'replaceable now'.")
@click.option("--max-eval-examples", default=200, show_default=True, type=click.IntRange(1),
              help="Calls per task the --specialist models are evaluated on.")
def report(store_path: Path, key: str | None, out_path: Path, clusterer_dir: Path | None,
           embedder: str, registry_dir: Path | None, specialist_args: tuple[str, ...],
           period_days: float | None, quality_bar: float, max_eval_examples: int) -> None:
    """Write the replacement-potential report: which calls small models can take, and savings."""
    from ..cluster import TaskClusterer
    from ..report import replacement_report

    specialists = {}
    for spec in specialist_args:
        task, sep, path = spec.partition("=")
        if not sep or not task or not path:
            raise CLIError(f"--specialist takes TASK=PATH, got {spec!r}")
        from ..train import Specialist

        specialists[int(task) if task.lstrip("-").isdigit() else task] = Specialist.load(path)
    if registry_dir is not None and not registry_dir.is_dir():
        raise CLIError(f"no registry at {registry_dir}")
    clusterer = (load_clusterer(clusterer_dir) if clusterer_dir is not None
                 else TaskClusterer(embedder=make_embedder(embedder), show_progress=True))
    with open_store(store_path, key) as store:
        records = read_records(store)
    found = replacement_report(records, clusterer=clusterer, specialists=specialists or None,
                               registry=registry_dir, period_days=period_days,
                               quality_bar=quality_bar, max_eval_examples=max_eval_examples)
    _write(found, out_path)
    click.echo(found.summary())
    click.echo(f"Report written to {out_path}")
    check_file(out_path, "report")
