"""The S3-compatible object store (CPA's ``OBJECTSTORE_ENDPOINT``): bucket
``OBJECTSTORE_BUCKET`` holds ``config/config.yaml`` and ``auths/<file>.json``; path-style
addressing, so MinIO, Ceph, R2, Garage and AWS S3 all serve. The endpoint is a host (HTTPS)
or a URL whose scheme (``http`` or ``https``, nothing else) picks the transport; a path on
it is kept. The bucket is created when it does not exist.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .base import StoreError, TokenStore

__all__ = ["ObjectStore", "endpoint_url"]

log = logging.getLogger(__name__)

CONFIG_KEY = "config/config.yaml"
AUTH_PREFIX = "auths/"
TIMEOUT = 15


def endpoint_url(endpoint: str) -> str:
    """CPA's endpoint rule as a URL: ``host[:port]`` means HTTPS; ``http://`` and
    ``https://`` are taken as given; any other scheme, or no host, is an error."""
    endpoint = endpoint.strip()
    if "://" not in endpoint:
        if not endpoint.rstrip("/"):
            raise StoreError("object store: OBJECTSTORE_ENDPOINT is empty")
        return "https://" + endpoint.rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme.lower() not in ("http", "https"):
        raise StoreError(
            f"object store: unsupported scheme {parts.scheme!r} (only http and https are allowed)"
        )
    if not parts.netloc:
        raise StoreError(f"object store: endpoint {endpoint!r} is missing host information")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc}{path}"


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


def _version(item: dict[str, Any]) -> str:
    """A listed object's version: its ETag, time and size."""
    return f"{item.get('ETag', '')}|{item.get('LastModified', '')}|{item.get('Size', '')}"


class ObjectStore(TokenStore):
    kind = "object"

    def __init__(
        self, root: Path, endpoint: str, access_key: str, secret_key: str, bucket: str, prefix: str = ""
    ) -> None:
        super().__init__(root)
        for name, value in (
            ("OBJECTSTORE_ACCESS_KEY", access_key),
            ("OBJECTSTORE_SECRET_KEY", secret_key),
            ("OBJECTSTORE_BUCKET", bucket),
        ):
            if not value.strip():
                raise StoreError(f"object store: {name} is required")
        self.endpoint = endpoint_url(endpoint)
        self.bucket = bucket.strip()
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key.strip(),
            aws_secret_access_key=secret_key.strip(),
            region_name="us-east-1",
            config=BotoConfig(
                s3={"addressing_style": "path"},
                connect_timeout=TIMEOUT,
                read_timeout=TIMEOUT,
                retries={"max_attempts": 2},
            ),
        )

    def describe(self) -> str:
        return f"object storage (bucket {self.bucket} at {self.endpoint})"

    def _key(self, key: str) -> str:
        return self.prefix + key

    def bootstrap(self, template: Path | None = None) -> None:
        try:
            self._ensure_bucket()
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(CONFIG_KEY))["Body"].read()
                self.write_local(self.config_path, bytes(body).replace(b"\r\n", b"\n"))
            except ClientError as exc:
                if not _missing(exc):
                    raise
                seed = self.seed_config(template)
                self.write_local(self.config_path, seed)
                if seed:
                    self.put_config(seed)
            records: dict[str, bytes] = {}
            versions: dict[str, str] = {}
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(AUTH_PREFIX)
            )
            for page in pages:
                for item in page.get("Contents", []):
                    rel = str(item["Key"])[len(self._key(AUTH_PREFIX)) :]
                    if rel and not rel.endswith("/"):
                        records[rel] = bytes(
                            self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                        )
                        versions[rel] = _version(item)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"object store: {exc}") from None
        self.reset_auth_dir(records)
        self._pulled = versions  # a pull reads what moved since
        log.info("object store: %d auth object(s) in %s", len(records), self.auth_dir)

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _missing(exc):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def put_auth(self, rel: str, data: bytes | None) -> None:
        key = self._key(AUTH_PREFIX + rel)
        if data is None or not data:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            return
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")

    def remote_versions(self) -> dict[str, str]:
        found: dict[str, str] = {}
        prefix = self._key(AUTH_PREFIX)
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                rel = str(item["Key"])[len(prefix) :]
                if rel and not rel.endswith("/"):
                    found[rel] = (
                        f"{item.get('ETag', '')}|{item.get('LastModified', '')}|{item.get('Size', '')}"
                    )
        return found

    def remote_read(self, rels: list[str]) -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        for rel in rels:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(AUTH_PREFIX + rel))["Body"]
                got[rel] = bytes(body.read())
            except ClientError as exc:
                if not _missing(exc):
                    raise
        return got

    def put_config(self, data: bytes) -> None:
        key = self._key(CONFIG_KEY)
        if not data:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            return
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/x-yaml")

    def close(self) -> None:
        self.client.close()
