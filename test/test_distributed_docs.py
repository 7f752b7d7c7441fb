"""docs/distributed.md: every YAML document loads, and the fields the text
relies on agree (broker URL = the Redis Service, workers and coordinator
with no tuning flag the command line no longer has, Indexed Job completions
= --total-chunks, every chunk plans from one runtimes file, the merge reads
what the chunks write); the Dockerfile gives the entry point."""

import os
import re

import yaml

from conftest import TOP

DOC = os.path.join(TOP, "docs", "distributed.md")


def blocks(kind):
    with open(DOC) as f:
        return re.findall(r"^```%s\n(.*?)^```" % kind, f.read(), re.S | re.M)


def documents():
    docs = []
    for block in blocks("yaml"):
        docs.extend(d for d in yaml.safe_load_all(block) if d is not None)
    return docs


def by_kind_name():
    return {(d["kind"], d["metadata"]["name"]): d for d in documents()}


def container(doc):
    spec = doc["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    return c, spec


def option(args, name):
    return args[args.index(name) + 1]


def test_every_document_loads_with_kind_and_namespace():
    docs = documents()
    assert len(docs) == 7
    for d in docs:
        assert d["apiVersion"] and d["kind"] and d["metadata"]["namespace"] == "tests"
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Deployment", "Job", "Job", "Job", "PersistentVolumeClaim", "Service", "StatefulSet"]


def test_dynamic_mode_objects_agree():
    objs = by_kind_name()
    service = objs[("Service", "redis")]
    redis = objs[("StatefulSet", "redis")]
    port = service["spec"]["ports"][0]["port"]
    assert service["spec"]["selector"] == redis["spec"]["template"]["metadata"]["labels"]
    assert redis["spec"]["serviceName"] == "redis"
    assert container(redis)[0]["ports"][0]["containerPort"] == port
    url = "redis://redis:%d/0" % port

    worker, _ = container(objs[("Deployment", "mozparallel-worker")])
    args = worker["args"]
    assert args[0] == "worker" and option(args, "--broker") == url and option(args, "--root") == "/src"
    deployment = objs[("Deployment", "mozparallel-worker")]
    assert deployment["spec"]["selector"]["matchLabels"] == deployment["spec"]["template"]["metadata"]["labels"]

    coordinator, spec = container(objs[("Job", "mozparallel-run")])
    cargs = coordinator["args"]
    assert option(cargs, "--broker") == url and spec["restartPolicy"] == "Never"
    # Both parse with today's command line (no --visibility-timeout any more).
    from mozparallel.commands.worker import build_parser as worker_parser
    from mozparallel.options import build_parser

    worker_parser().parse_args(args[1:])
    build_parser().parse_args(cargs)
    assert float(option(cargs, "--max-time")) > 0
    assert coordinator["workingDir"] == "/src"


def test_static_mode_objects_agree():
    objs = by_kind_name()
    chunks = objs[("Job", "mozparallel-chunks")]
    assert chunks["spec"]["completionMode"] == "Indexed"
    c, spec = container(chunks)
    command = " ".join(c["args"])
    total = int(re.search(r"--total-chunks (\d+)", command).group(1))
    assert chunks["spec"]["completions"] == chunks["spec"]["parallelism"] == total
    assert "$JOB_COMPLETION_INDEX" in command and "--this-chunk" not in command
    assert "--runtimes /src/" in command        # one frozen plan on every pod
    log_dir = c["volumeMounts"][0]["mountPath"]
    assert "--log-raw %s/chunk-$JOB_COMPLETION_INDEX.log" % log_dir in command
    claim = spec["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert objs[("PersistentVolumeClaim", claim)]["spec"]["accessModes"] == ["ReadWriteMany"]

    m, mspec = container(objs[("Job", "mozparallel-merge")])
    merge = " ".join(m["args"])
    assert merge.startswith("exec paralleltest merge %s/chunk-*.log" % m["volumeMounts"][0]["mountPath"])
    assert mspec["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim


def test_dockerfile_gives_the_image_the_docs_use():
    (dockerfile,) = blocks("dockerfile")
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    assert 'ENTRYPOINT ["paralleltest"]' in lines
    assert any(line.startswith("RUN pip install") and "requirements.txt" in line for line in lines)
    assert "WORKDIR /src" in lines
    images = {container(d)[0]["image"] for d in documents() if d["kind"] in ("Deployment", "Job")}
    assert images == {"mozparallel-worker:latest"}
