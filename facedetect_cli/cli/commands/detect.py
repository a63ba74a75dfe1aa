from __future__ import annotations

from pathlib import Path

import click

from facedetect_cli.cli.options import CommonOptions, common_options
from facedetect_cli.cli.runner import Run, run

LOCAL_POLL_S = 0.1


@click.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--no-wait", is_flag=True, help="Upload and stop; do not follow the execution.")
@click.option("--timeout", "timeout_s", type=click.IntRange(1, 3600), default=300,
              show_default=True, help="Seconds to wait for the execution to start and finish.")
@common_options()
def detect(opts: CommonOptions, image: Path, no_wait: bool, timeout_s: int) -> None:
    """Upload IMAGE (.jpg/.jpeg/.png) under uploads/, follow the execution the upload starts,
    and print the faces found. Exit 0 on success, 1 when the pipeline failed."""
    run(opts, lambda r: _detect(r, image, no_wait=no_wait, timeout_s=timeout_s))


def _detect(r: Run, image: Path, *, no_wait: bool, timeout_s: int) -> int:
    from facedetect_cli.cli import render
    from facedetect_cli.cli.local_run import local_run
    from facedetect_cli.engine.config import StackConfig
    from facedetect_cli.errors import FacedetectError
    from facedetect_cli.observe.pipeline import check_image, is_local_emulator

    check_image(image)  # bad input stops before any AWS call
    app = r.app(StackConfig(stack=r.opts.stack))
    pipeline = app.pipeline()
    upload = pipeline.upload(image)
    where = f"s3://{upload.bucket}/{upload.key}"
    doc: dict[str, object] = {**app.header, "bucket": upload.bucket, "key": upload.key}
    local = r.opts.local or is_local_emulator(app.aws.connection.endpoint_url)
    if no_wait:
        r.out.info(f"Uploaded to {where}.")
        if r.out.json:
            r.out.document({**doc, "status": "UPLOADED", "followed": False})
        return 0
    # The local pipeline answers within a second: poll it often; AWS's takes seconds.
    poll = {"poll_s": LOCAL_POLL_S} if local else {}
    with render.spinner(r.out, f"Uploaded to {where}; waiting for the pipeline to start..."):
        arn = pipeline.find_execution(upload, timeout_s=timeout_s, **poll)
    if arn is None:
        raise FacedetectError(
            f"no execution started for {where} within {timeout_s}s; " + (
                "the emulator on this port does not run the pipeline (facedetect's own does: "
                "`facedetect local stop`, then run this again)" if local else
                "S3 takes about five minutes after `up` to start sending events, so try "
                "again, or check the rule with `facedetect status`"))
    with render.spinner(r.out, "Detecting faces..."):
        execution = pipeline.follow(arn, timeout_s=timeout_s, **poll)
    detection = execution.detection
    doc.update({"execution": arn, "status": execution.status, "faceCount":
                detection.get("faceCount"), "faces": detection.get("faces", []),
                "error": execution.error or None, "cause": execution.cause or None})
    extras = (local_run(r, pipeline, upload, app.aws.connection.endpoint_url) if local
              else None)
    if r.out.json:
        r.out.document({**doc, **(extras.as_json() if extras else {})})
    succeeded = execution.status == "SUCCEEDED"
    if succeeded and not r.out.json and not r.out.quiet:
        count = detection.get("faceCount", 0)
        render.faces(r.out, f"{count} face(s) in {where}", detection.get("faces", []))
    if extras and not r.out.json and not r.out.quiet:
        extras.show(r.out, succeeded=succeeded)
    if not succeeded:
        r.out.error(f"the pipeline failed for {where}: {execution.error}: {execution.cause}")
        return 1
    return 0
