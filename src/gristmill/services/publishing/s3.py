"""Publish to an S3 bucket: `{prefix}/data/{split}-00000-of-00001.{ext}` and, last, the dataset
card `{prefix}/README.md` beside them (so a card means the data is whole). Objects are put
whole, so a retried attempt overwrites them with the same bytes.

`target_spec`: `bucket` (required), `prefix`, `endpoint_url`, `region`, `access_key_id`,
`secret_access_key` (else the `GRISTMILL_S3_*` settings, else boto3's chain), `format`
(`parquet`, `jsonl` or `openai-chat`), `split`."""

from __future__ import annotations

from typing import Any

from gristmill.services.publishing.base import Attempt, PublishFailed, choice, text_field
from gristmill.settings import Settings

FORMATS = ("parquet", "jsonl", "openai-chat")


class S3:
    name: str = "s3"
    secret_fields: tuple[str, ...] = ("secret_access_key",)

    def check(self, spec: dict[str, Any], settings: Settings) -> None:
        text_field(spec, "bucket")
        for name in ("prefix", "endpoint_url", "region", "access_key_id", "secret_access_key"):
            text_field(spec, name, required=False)
        self.data_format(spec)

    def data_format(self, spec: dict[str, Any]) -> str:
        return choice(spec, "format", FORMATS)

    def publish(self, attempt: Attempt) -> tuple[str, str]:
        import boto3
        from boto3.exceptions import S3UploadFailedError
        from botocore.config import Config
        from botocore.exceptions import ClientError

        spec, settings = attempt.spec, attempt.settings
        client = boto3.client(
            "s3",
            endpoint_url=spec.get("endpoint_url") or settings.s3_endpoint_url,
            aws_access_key_id=spec.get("access_key_id") or settings.s3_access_key_id,
            aws_secret_access_key=spec.get("secret_access_key") or settings.s3_secret_access_key,
            region_name=spec.get("region") or settings.s3_region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        bucket, prefix = spec["bucket"], (spec.get("prefix") or "").strip("/")

        def key(name: str) -> str:
            return f"{prefix}/{name}" if prefix else name

        ext = "parquet" if attempt.bundle.file_format == "parquet" else "jsonl"
        try:
            for split, path in attempt.bundle.files.items():
                client.upload_file(str(path), bucket, key(f"data/{split}-00000-of-00001.{ext}"))
            client.put_object(Bucket=bucket, Key=key("README.md"), Body=attempt.bundle.card)
        except (ClientError, S3UploadFailedError) as exc:
            # upload_file wraps the service's error; the code is on the one it wraps
            cause = exc if isinstance(exc, ClientError) else exc.__cause__ or exc.__context__
            code = (
                cause.response.get("Error", {}).get("Code", "")
                if isinstance(cause, ClientError)
                else ""
            )
            if code in (
                "NoSuchBucket",
                "AccessDenied",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
            ):
                raise PublishFailed(f"S3 refused the publication: {code}.") from None
            raise
        url = f"s3://{bucket}/{prefix + '/' if prefix else ''}"
        return url, f"Published {attempt.bundle.rows:,} rows to {url}."
