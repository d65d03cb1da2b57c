"""Curated signatures for what ends a wrapped chain: cloud, network, disk and SQLite errors, and upgrade traps.

Litestream wraps (`monitor error: write ltx file: s3: upload …: operation error S3: PutObject,
https response error StatusCode: 403 … AccessDenied`); the words at the end are what the user
must act on. These signatures match anywhere in the chain, and the classifier prefers the one
whose match ends last (the innermost cause). Each is backed by the upstream thread or commit
that settled it (`upstream`), since cloud accounts cannot be reproduced here; where a release
fixed the behaviour, `fixed_in` says which and `applies` keeps the cause to the releases it
holds for. Data, not logic.
"""

from __future__ import annotations

from litefix.explain.signatures import Signature
from litefix.model import Severity

GH = "https://github.com/benbjohnson/litestream/"
ANY = "0.3.0 .. 0.5.x"

ENVIRONMENT: tuple[Signature, ...] = (
    Signature(
        id="v04-beta-live-replication",
        pattern=r"(?:sync|stream) error, retrying|http: error: No generation available|invalidate shm file"
        r"|cannot verify wal state: (?:open wal file: )?stat \S+?-wal: no such file or directory",
        severity=Severity.ERROR,
        title="A Litestream 0.4 beta (never released) failing in its live read-replication code",
        meaning="The 0.4.0 alphas and betas carried live read replication (`upstream:` replicas streaming over "
        "HTTP). It was withdrawn in July 2022 and 0.4.0 was never released; these errors come from that code "
        "(issues #361, #362, #395) and were closed, not fixed. `cannot verify wal state … -wal: no such file` "
        "from a 0.4 beta is that bug too, not a database replaced under Litestream.",
        versions=("0.4.0-beta.1", "0.4.0-beta.2"),
        cause="Running a 0.4 beta (often the `litestream/litestream:0.4.0-beta.2` image, `litestream version` "
        "prints a commit hash `80f8de4d…`); restarts only hide it for a while.",
        fix="Move to 0.3.13 (same replica format as the betas' generations) or to 0.5.x; for read replicas use "
        "LiteFS or `restore -f` (follow mode) in 0.5.",
        applies="0.4.0-alpha.0..0.4.0-beta.2",
        upstream=GH + "issues/395",
    ),
    Signature(
        id="compaction-tmp-rename",
        pattern=r"^compaction failed rename \S+\.ltx\.tmp \S+\.ltx: no such file or directory",
        severity=Severity.WARNING,
        title="A 0.5 compaction lost its temporary file before renaming it into place",
        meaning="Compaction writes `<level>/<range>.ltx.tmp` and renames it; the `.tmp` was gone. Reported during "
        "0.5.0-beta1 testing as intermittent, with compaction continuing normally and data intact (issue #670).",
        versions=("0.5.0-beta1 (reported)",),
        cause="Ranked: (1) a race in 0.5 compaction's temporary-file handling on a file replica (issue #670); (2) a "
        "second Litestream process compacting the same replica (see duplicate-replicator).",
        fix="Nothing if it is occasional and later compactions succeed; if it repeats, make sure one Litestream "
        "process owns the replica and upgrade to the newest 0.5 release.",
        applies="0.5.0-beta1..",
        upstream=GH + "issues/670",
    ),
    Signature(
        id="validation-mismatch",
        pattern=r"validation error: invalid replica, checksum mismatch|validator: status=mismatch",
        severity=Severity.WARNING,
        title="0.3's built-in validator reported a checksum mismatch (often a false positive)",
        meaning="With `validation-interval`, 0.3 restores the replica in the background and compares checksums "
        "with the live database. The comparison races with writes and checkpoints, so mismatches were reported "
        "for sound replicas; the maintainer removed the validator from the 0.4 line for its false positives "
        "(PR #302).",
        versions=("0.3.2–0.3.14",),
        cause="Ranked: (1) a false positive of the validator under writes (issue #253: restores from the same "
        "replica were fine); (2) a replica that really diverged (a replaced database, two replicators).",
        fix="Check for real: restore to a temporary path and run `PRAGMA integrity_check`, or `litefix diagnose DB "
        "--verify-restore`; then remove `validation-interval` from the config.",
        applies="0.3.0..0.3.14 0.4.0-alpha.0..0.4.0-alpha.3",
        upstream=GH + "issues/253",
        command="litefix diagnose DB --verify-restore",
    ),
    Signature(
        id="wal-missing-early-03",
        pattern=r"cannot verify wal state: (?:open wal file: )?stat (?P<db>\S+?)(?:-wal)?: no such file or directory",
        severity=Severity.ERROR,
        title="Litestream 0.3.0–0.3.2 finds no -wal next to the database",
        meaning="A bug of early 0.3 releases: they could not stat the -wal on every sync. It was reported with "
        "0.3.2 on a database created by another container before Litestream started, with nothing replaced or deleted "
        "(issue #79, also seen without containers); the replaced-file explanation measured with 0.3.13 is not "
        "established for these releases.",
        versions=("0.3.2 (reported)",),
        cause="Ranked: (1) the early 0.3 handling of a database whose WAL another process (or container) had not "
        "created yet (issue #79); (2) the -wal really deleted under Litestream (a recreated database).",
        fix="Upgrade to 0.3.13 (or 0.5.x); if the line persists there, read it as `wal-vanished`.",
        applies="0.3.0..0.3.2",
        upstream=GH + "issues/79",
    ),
    Signature(
        id="s3-malformed-trailer",
        pattern=r"MalformedTrailerError|InvalidContentEncoding|trailing checksum is not supported"
        r"|XAmzContentSHA256Mismatch|x-amz-content-sha256|StatusCode: 400,.*api error InvalidArgument: UnknownError",
        severity=Severity.ERROR,
        title="An S3-compatible provider rejects the AWS SDK's chunked uploads with trailing checksums",
        meaning="Uploads fail with HTTP 400: the AWS SDK for Go v2 (from v1.73) sends `aws-chunked` bodies with a "
        "trailing checksum, which Backblaze B2, Filebase, MinIO, DigitalOcean Spaces, Scaleway and others do "
        "not accept. Nothing reaches the replica.",
        versions=("0.5.0–0.5.5 with a custom endpoint",),
        cause="Litestream 0.5.0–0.5.5 with an S3-compatible `endpoint`. 0.5.4 fixed Tigris only; 0.5.6 disables "
        "aws-chunked encoding for every custom endpoint (PR #919, issue #918).",
        fix="Upgrade Litestream to 0.5.6 or later. Until then, 0.3.13 (SDK v1) works against these providers.",
        applies="0.5.0-beta1..0.5.5",
        fixed_in="0.5.6",
        upstream=GH + "pull/919",
    ),
    Signature(
        id="s3-access-denied",
        pattern=r"(?:operation error S3: (?P<action>\w+).*)?\b(?:AccessDenied|Access Denied|AllAccessDisabled)\b",
        severity=Severity.ERROR,
        title="S3 (or an S3-compatible store) refused a request: Access Denied",
        meaning="The credentials work but are not allowed this action on this bucket/prefix (HTTP 403). The action "
        "is named in 0.5's error (`operation error S3: PutObject`); 0.3's SDK v1 errors do not name it, so go by "
        "the operation before it (write snapshot / wal segment: PutObject; retention: DeleteObject; listing "
        "generations: ListBucket).",
        versions=(ANY,),
        cause="An IAM policy missing one of the actions Litestream needs: s3:GetObject, s3:PutObject, "
        "s3:DeleteObject on `bucket/path/*` and s3:ListBucket (plus s3:GetBucketLocation for the region lookup) on "
        "the bucket. The restrictive policy once in Litestream's docs lacked some of these (issue #593). Also: a "
        "bucket policy or object lock that forbids deletes, or the wrong bucket.",
        fix="Grant the missing action to the key Litestream uses (the action named above, or all of GetObject, "
        "PutObject, DeleteObject, ListBucket, GetBucketLocation on the bucket and prefix), then restart Litestream.",
        upstream=GH + "issues/593",
        # 0.3's SDK v1 errors do not name the action: the Litestream operation that failed does.
        hints=(
            ("bucket region", "action: s3:GetBucketLocation"),
            ("delete", "action: s3:DeleteObject"),
            ("generations", "action: s3:ListBucket"),
            ("snapshots", "action: s3:ListBucket"),
            ("wal segments", "action: s3:ListBucket"),
            ("write", "action: s3:PutObject"),
            ("upload", "action: s3:PutObject"),
            ("monitor error", "action: s3:PutObject (an upload)"),
            ("restore", "action: s3:GetObject"),
        ),
    ),
    Signature(
        id="s3-invalid-access-key",
        pattern=r"InvalidAccessKeyId|The AWS Access Key Id you provided does not exist",
        severity=Severity.ERROR,
        title="The S3 access key ID does not exist at this endpoint",
        meaning="The store does not know the key (HTTP 403): nothing is uploaded.",
        versions=(ANY,),
        cause="A wrong, deleted or rotated key; a key for another provider (an AWS key sent to R2/B2 because "
        "`endpoint` is missing, or the other way round); an environment variable that overrides the config "
        "(`AWS_ACCESS_KEY_ID` vs `LITESTREAM_ACCESS_KEY_ID`).",
        fix="Check which key Litestream actually uses (config `access-key-id`, then LITESTREAM_ACCESS_KEY_ID, then "
        "AWS_ACCESS_KEY_ID) and that `endpoint` points at the provider that issued it.",
        upstream=GH + "issues/811",
    ),
    Signature(
        id="s3-signature-mismatch",
        pattern=r"SignatureDoesNotMatch|signature we calculated does not match",
        severity=Severity.ERROR,
        title="The request signature does not match: wrong secret key, region or endpoint quirk",
        meaning="The store recomputed the SigV4 signature and got another one (HTTP 403).",
        versions=(ANY,),
        cause="A wrong secret access key (trailing whitespace or newline from a secret store is common), a region "
        "that differs from the bucket's, or an S3-compatible provider that rejects the newer SDK's signing "
        "(Filebase/Backblaze with 0.5.0–0.5.5, issues #811, #941).",
        fix="Re-enter the secret key without whitespace, set `region` to the bucket's region, and on an S3-compatible "
        "provider use Litestream 0.5.6 or later.",
        upstream=GH + "issues/941",
    ),
    Signature(
        id="aws-no-credentials",
        pattern=r"NoCredentialProviders|no valid providers in chain|failed to retrieve credentials"
        r"|failed to refresh cached credentials|EC2RoleRequestError|get credentials: |AnonymousCredentials",
        severity=Severity.ERROR,
        title="No AWS credentials were found",
        meaning="The AWS SDK looked in the config, the environment, the shared credentials file and instance "
        "metadata and found no key.",
        versions=(ANY,),
        cause="The credentials are not in Litestream's environment: a systemd unit or container without the "
        "`LITESTREAM_ACCESS_KEY_ID`/`AWS_*` variables, `${VAR}` in litestream.yml with the variable unset (it "
        "expands to empty), or no instance role on the machine.",
        fix="Give Litestream's own process the key (config `access-key-id`/`secret-access-key`, or the env vars in "
        "its unit/container), or attach an instance role; `litestream` expands `${VAR}` only when it is set.",
        upstream=GH + "issues/593",
    ),
    Signature(
        id="s3-bucket-region",
        pattern=r"cannot lookup bucket region|BucketRegionError|PermanentRedirect|AuthorizationHeaderMalformed"
        r"|region .* is wrong; expecting|incorrect region|301 Moved Permanently|the bucket you are attempting "
        r"to access must be addressed using the specified endpoint",
        severity=Severity.ERROR,
        title="The bucket's region could not be looked up or does not match",
        meaning="Without `region`, Litestream asks S3 where the bucket lives (GetBucketLocation); the lookup failed, "
        "or requests went to another region's endpoint.",
        versions=(ANY,),
        cause="No `region` in the config and a key without s3:GetBucketLocation, a bucket name that does not exist, "
        "or an S3-compatible endpoint that does not implement the lookup.",
        fix="Set `region:` on the replica (and `endpoint:` for S3-compatible stores), or allow s3:GetBucketLocation.",
        upstream=GH + "issues/593",
    ),
    Signature(
        id="s3-no-such-bucket",
        pattern=r"NoSuchBucket|The specified bucket does not exist",
        severity=Severity.ERROR,
        title="The bucket does not exist (at this endpoint and region)",
        meaning="Every upload and restore fails with 404 NoSuchBucket.",
        versions=(ANY,),
        cause="A typo in `bucket` or the replica URL, a bucket in another account/provider, or `endpoint` missing "
        "so the request went to AWS instead of the S3-compatible store.",
        fix="Create the bucket or correct `bucket`/`endpoint` (`s3://BUCKET/PATH?endpoint=…`), then restart.",
        upstream=GH + "issues/811",
    ),
    Signature(
        id="s3-clock-skew",
        pattern=r"RequestTimeTooSkewed|difference between the request time and the current time is too large"
        r"|Signature expired",
        severity=Severity.ERROR,
        title="The machine's clock is off: S3 rejects the signed requests",
        meaning="SigV4 signatures carry the time; more than 15 minutes of skew and every request is refused (403).",
        versions=(ANY,),
        cause="No NTP in the VM/container host, a suspended laptop or VM that resumed with a stale clock.",
        fix="Sync the clock (`timedatectl set-ntp true`, chrony) and restart Litestream.",
        upstream=GH + "issues/593",
    ),
    Signature(
        id="s3-server-error",
        pattern=r"(?:StatusCode|status code): 5\d\d\b|\bInternalError\b|ServiceUnavailable|SlowDown|\bBad Gateway\b"
        r"|retry quota exceeded",
        severity=Severity.ERROR,
        title="The object store answered with a server error (5xx)",
        meaning="The provider failed the request (500/502/503) or throttled it; the SDK retried and gave up "
        "(`retry quota exceeded`). Litestream retries at the next sync, so isolated lines are noise; a steady "
        "stream means nothing reaches the replica.",
        versions=(ANY,),
        cause="An outage or throttling at the provider, or a provider that fails large multipart uploads (R2 with "
        "0.5.4 returned InternalError on UploadPart, issue #912).",
        fix="If it persists: check the provider's status, lower the upload `part-size`/`concurrency`, and upgrade "
        "Litestream (0.5.x releases after 0.5.5 changed the S3 upload path for S3-compatible providers).",
        upstream=GH + "issues/912",
    ),
    Signature(
        id="gcs-forbidden",
        pattern=r"googleapi: Error 403|does not have storage\.\w+\.\w+ access|AccessDeniedException: 403",
        severity=Severity.ERROR,
        title="Google Cloud Storage refused the request (403)",
        meaning="The service account is authenticated but lacks a permission on the bucket.",
        versions=(ANY,),
        cause="The service account in GOOGLE_APPLICATION_CREDENTIALS (or the VM's) lacks storage.objects.create/get/"
        "delete/list on the bucket.",
        fix="Grant it roles/storage.objectAdmin on the bucket (or the named permission) and restart Litestream.",
        upstream=GH + "issues/800",
    ),
    Signature(
        id="gcs-not-found",
        pattern=r"googleapi: Error 404|storage: bucket doesn't exist",
        severity=Severity.ERROR,
        title="Google Cloud Storage: bucket or object not found (404)",
        meaning="The bucket does not exist for this project/credentials, or an expected object is gone.",
        versions=(ANY,),
        cause="A typo in `bucket`, another project's credentials, or a replica object deleted by a lifecycle rule.",
        fix="Check the bucket name and project; for a missing object, see the restore signatures (a gap in the "
        "replica).",
        upstream=GH + "issues/800",
    ),
    Signature(
        id="azure-auth",
        pattern=r"AuthenticationFailed|AuthorizationPermissionMismatch|AuthorizationFailure"
        r"|Server failed to authenticate the request|InvalidAuthenticationInfo|AADSTS\d+",
        severity=Severity.ERROR,
        title="Azure Blob Storage rejected the credentials",
        meaning="The account key, SAS or identity is wrong or lacks a role on the container (HTTP 403).",
        versions=(ANY,),
        cause="A wrong or rotated `account-key` (LITESTREAM_AZURE_ACCOUNT_KEY), an expired SAS, or a managed identity "
        "without `Storage Blob Data Contributor` on the container.",
        fix="Set the current account key (or grant Storage Blob Data Contributor) and restart Litestream.",
        upstream=GH + "issues/811",
    ),
    Signature(
        id="sftp-auth",
        pattern=r"ssh: handshake failed|ssh: unable to authenticate|knownhosts: key (?:is unknown|mismatch)"
        r"|cannot connect to sftp|sftp: \"?permission denied",
        severity=Severity.ERROR,
        title="The SFTP replica cannot log in or write",
        meaning="The SSH connection or authentication to the SFTP server failed, or the user may not write there.",
        versions=(ANY,),
        cause="Wrong `user`/`password`/`key-path`, a host key not in `host-key-path`'s known_hosts, or a path the "
        "user cannot write.",
        fix="Test with `sftp -i KEY user@host` from the same machine and user, fix the key or known_hosts entry, and "
        "make the replica path writable.",
        upstream=GH + "issues/627",
    ),
    Signature(
        id="tls-unknown-authority",
        pattern=r"x509: certificate signed by unknown authority|x509: certificate is not valid|x509: certificate "
        r"is valid for|tls: failed to verify certificate|certificate has expired",
        severity=Severity.ERROR,
        title="TLS: the replica endpoint's certificate is not trusted",
        meaning="Go could not verify the endpoint's certificate chain, so no request is sent.",
        versions=(ANY,),
        cause="A minimal container image without CA certificates (scratch/distroless without ca-certificates), a "
        "TLS-intercepting proxy, a self-signed MinIO/endpoint, or a hostname that does not match.",
        fix="Install CA certificates in the image (`apk add ca-certificates`, `apt-get install ca-certificates`) or "
        "add the proxy/endpoint CA to the system store (SSL_CERT_FILE); do not point AWS_CA_BUNDLE at it with "
        "0.5.17 (see aws-ca-bundle).",
        upstream=GH + "issues/811",
    ),
    Signature(
        id="dns-lookup-failed",
        pattern=r"dial tcp: lookup \S+(?: on \S+)?: (?:no such host|server misbehaving|i/o timeout|Temporary failure)"
        r"|\bno such host\b",
        severity=Severity.ERROR,
        title="The replica endpoint's host name does not resolve",
        meaning="DNS lookup of the endpoint failed: nothing is uploaded until it resolves.",
        versions=(ANY,),
        cause="A typo in `endpoint`/bucket (virtual-hosted style puts the bucket in the host name), no DNS in the "
        "container, or a network not up yet at boot.",
        fix="Check the endpoint and `force-path-style`, and that the container resolves it (`getent hosts HOST`).",
        upstream=GH + "issues/811",
    ),
    Signature(
        id="connection-failed",
        pattern=r"connection refused|connection reset by peer|network is unreachable|no route to host|broken pipe"
        r"|(?:dial tcp|read tcp|write tcp) \S+: i/o timeout|TLS handshake timeout|unexpected EOF while reading",
        severity=Severity.ERROR,
        title="The connection to the replica endpoint failed",
        meaning="TCP to the endpoint was refused, reset or timed out. Litestream retries; a steady stream means the "
        "replica falls behind.",
        versions=(ANY,),
        cause="The endpoint is down or wrong (port, http vs https), a firewall/egress rule, or a flaky network.",
        fix="Check `endpoint` (scheme and port) and reachability from the machine (`curl -v ENDPOINT`).",
        upstream=GH + "issues/912",
    ),
    Signature(
        id="context-deadline",
        pattern=r"context deadline exceeded|Client\.Timeout exceeded|RequestCanceled|request canceled",
        severity=Severity.ERROR,
        title="An operation timed out (context deadline exceeded)",
        meaning="A request to the replica (or a shutdown sync) did not finish within its deadline.",
        versions=(ANY,),
        cause="A slow or unreachable endpoint, a large upload on a slow link, or a shutdown that allowed too little "
        "time for the final sync.",
        fix="Check the network to the endpoint; for big databases raise the `part-size` and give the process more "
        "shutdown time (the supervisor's stop timeout).",
        upstream=GH + "issues/1077",
    ),
    Signature(
        id="disk-full",
        pattern=r"no space left on device|disk full while staging ltx file|\bdisk full\b|database or disk is full",
        severity=Severity.ERROR,
        title="The disk is full",
        meaning="A write by Litestream (its meta dir, the shadow WAL in 0.3, staged LTX files in 0.5) or by SQLite "
        "failed for lack of space. While it lasts nothing is replicated, and the app's own writes fail too.",
        versions=(ANY,),
        cause="0.5 stages a full snapshot in the meta dir (about the size of the database) before upload, and 0.5.0 "
        "never removed its local L0 files (issue #784); 0.3 keeps a shadow WAL. A big -wal the app never "
        "checkpoints adds to it.",
        fix="Free space, then restart Litestream. On 0.5, check the size of `.<db>-litestream/ltx`; upgrade past "
        "0.5.0 if it only grows, and keep free space of at least the database size. `litefix diagnose DB` says "
        "what no longer fits (disk-low) and whether the meta dir piles up (meta-dir-growing).",
        codes=("disk-low", "meta-dir-growing", "checkpoint-blocked"),
        command="litefix diagnose DB",
        upstream=GH + "issues/1310",
    ),
    Signature(
        id="permission-denied",
        pattern=r"permission denied|operation not permitted|attempt to write a readonly database"
        r"|readonly database",
        severity=Severity.ERROR,
        title="Litestream may not read or write a file it needs",
        meaning="An open/create/rename of the database, its -wal/-shm, the meta dir or a file replica failed with "
        "EACCES/EPERM, or SQLite says the database is read-only to this process.",
        versions=(ANY,),
        cause="Litestream runs as another user than the app (files created 0600 by the app, or a root-owned meta dir "
        "after a run as root), a read-only mount, or SELinux/AppArmor.",
        fix="Run Litestream as the app's user (or give both one group with g+rw on the directory), fix ownership of "
        "the meta dir `.<db>-litestream`, and make the directory writable: SQLite creates -wal/-shm next to the "
        "database.",
        upstream=GH + "issues/79",
    ),
    Signature(
        id="malformed-schema",
        pattern=r"malformed database schema",
        severity=Severity.ERROR,
        title="The SQLite inside Litestream cannot read the app's schema",
        meaning="SQLite refuses to parse a CREATE statement in sqlite_schema. With Litestream the usual reason is "
        "not corruption: the SQLite compiled into the binary is older than the one the app uses, and the schema "
        "uses something newer (STRICT tables, generated columns, new functions in a CHECK/default/index).",
        versions=(ANY,),
        cause="An old Litestream (its embedded SQLite) against a schema from a newer SQLite: issue #274 is a "
        "trigger with an UPSERT that the user's sqlite3 3.36 read fine; rarely a damaged page 1.",
        fix="Upgrade Litestream to a release with a newer SQLite. If `sqlite3 DB 'PRAGMA integrity_check'` with a "
        "current sqlite3 also fails, treat it as corruption: `litefix diagnose DB --integrity full`.",
        codes=("litestream-sqlite-too-old", "integrity-failed"),
        command="litefix diagnose DB --config CONFIG",
        upstream=GH + "issues/274",
    ),
    Signature(
        id="not-a-database",
        pattern=r"file is not a database|file is encrypted or is not a database",
        severity=Severity.ERROR,
        title="The path given as a database is not an SQLite file",
        meaning="SQLite read the file's header and it is not `SQLite format 3`.",
        versions=(ANY,),
        cause="A config or other file passed where a database path goes (e.g. `litestream replicate litestream.yml` "
        "instead of `-config litestream.yml`), an encrypted database (SQLCipher), or a truncated/garbage file.",
        fix="Pass the config with `-config`, and database paths as the config lists them; for an encrypted "
        "database, Litestream cannot read it.",
        command="litefix diagnose DB",
        captured=("v03-config-as-db.log", "v05-config-as-db.log"),
    ),
    Signature(
        id="config-not-found",
        pattern=r"config file not found|open \S*litestream\.ya?ml: no such file",
        severity=Severity.ERROR,
        title="Litestream's config file is not where it looked",
        meaning="Without `-config`, Litestream reads /etc/litestream.yml (or $LITESTREAM_CONFIG); that file does not "
        "exist in this process's filesystem.",
        versions=(ANY,),
        cause="The config mounted at another path in the container, a relative `-config` resolved from another "
        "working directory, or a command given a database path that needs a config to look it up.",
        fix="Pass `-config /path/litestream.yml` (or set LITESTREAM_CONFIG), or give `restore` a replica URL "
        "instead of a database path.",
        upstream="https://github.com/benbjohnson/litestream.io/issues/214",
    ),
    Signature(
        id="flag-not-defined",
        pattern=r"flag provided but not defined: -?(?P<flag>[\w-]+)",
        severity=Severity.ERROR,
        title="A command-line flag this Litestream release does not have",
        meaning="The flag parser stopped before doing anything. Flags changed between releases (checked with the "
        "real binaries): 0.3.13's `restore -h` still lists `-v` but the flag is not defined (issue #533); 0.5.15 "
        "and 0.5.17 have no `-replica`, `-generation` or `-index` (use `-txid`/`-timestamp`) and accept "
        "`-if-replica-exists` again, which 0.5.0 rejected (issue #774).",
        versions=(ANY,),
        cause="A script or image written for another Litestream release (an entrypoint that upgraded the binary "
        "but not its flags).",
        fix="Check `litestream <command> -h` of the installed binary and drop or rename the flag (`-v`: remove; "
        "`-index`: `-txid`; `-generation`: not needed in 0.5). If `-if-replica-exists` is rejected, upgrade past "
        "0.5.0.",
        upstream=GH + "issues/774",
        captured=("v03-other-release-cli.txt", "v05-other-release-cli.txt"),
    ),
    Signature(
        id="unknown-command",
        pattern=r"litestream (?P<command>[\w-]+): unknown command",
        severity=Severity.ERROR,
        title="A litestream subcommand this release does not have",
        meaning="Subcommands changed between releases (from the source at each tag, and the real binaries): "
        "`generations`, `snapshots` and `wal` exist only in 0.3 and the 0.4 betas; `ltx` only in 0.5; `reset` only "
        "from 0.5.7 on (0.3.13 and 0.5.0–0.5.6 say `unknown command`).",
        versions=(ANY,),
        cause="A script or runbook written for another release: 0.3 tooling (`litestream generations`) run with a "
        "0.5 binary, or `litestream reset` with a binary older than 0.5.7.",
        fix="Use the installed release's command (`litestream -h`): 0.5's `ltx -level all DB` lists what "
        "`generations`/`snapshots` listed; without `reset`, stop Litestream and remove the meta dir by hand.",
        captured=("v03-other-release-cli.txt", "v05-other-release-cli.txt"),
    ),
    Signature(
        id="unknown-replica-type",
        pattern=r"unknown replica type in config: \"?(?P<type>[^\"\s]*)",
        severity=Severity.ERROR,
        title="The replica URL's scheme (or `type:`) is not one this release knows",
        meaning="Litestream reads the replica type from `type:` or the URL scheme and found none it knows (an "
        "empty type means the scheme was not recognised). Google Cloud Storage changed names between releases "
        "(from the source at each tag): `gcs` in 0.3.5–0.3.14, `gs` in the 0.4 betas and every 0.5 release.",
        versions=(ANY,),
        cause="`gs://` given to a 0.3 release or `gcs://` to a 0.5 release (issues #336, #640, #877), or a "
        "typo in the scheme.",
        fix="Use the scheme of the installed release (0.3: `gcs://BUCKET/PATH`; 0.4/0.5: `gs://BUCKET/PATH`), or "
        "`type:` with `bucket:` and `path:`.",
        upstream=GH + "issues/336",
    ),
    Signature(
        id="v03-backup-unreadable-by-05",
        pattern=r"no matching backup files available",
        severity=Severity.ERROR,
        title="Litestream 0.5 before 0.5.7 says `no matching backup files` for three different reasons",
        meaning="0.5 stores LTX files (`ltx/0/…`), 0.3 stored `generations/<id>/snapshots` and `wal`; releases "
        "before 0.5.7 look only for LTX files, and they also reported a listing the store refused as an empty "
        "replica (0.5.7 shows the real error).",
        versions=("0.5.0–0.5.6",),
        cause="Ranked: (1) a replica written by 0.3.x (issue #933); (2) a key or identity that may not list or "
        "read the bucket/container, e.g. Azure without the `Storage Blob Data Reader` role (issue #1016); (3) "
        "really no backups at that path (wrong path or bucket, first deploy).",
        fix="Restore with 0.5.7 or later: it restores 0.3 backups and names a permission error; or with the 0.3.13 "
        "binary for a 0.3 replica. Check that the restoring machine's credentials may list and read the replica.",
        applies="0.5.0-beta1..0.5.6",
        fixed_in="0.5.7",
        upstream=GH + "issues/933",
    ),
    Signature(
        id="ltx-local-state-missing",
        pattern=r"(?:open|stat|read) \S*ltx/\d+/[0-9a-f-]+\.ltx: no such file or directory|ltx file missing",
        severity=Severity.ERROR,
        title="Litestream 0.5's local LTX files are missing or out of step",
        meaning="0.5 keeps level-0 LTX files in the meta dir (`.<db>-litestream/ltx/0/`) until they are uploaded "
        "and compacted; one it expected is gone, so it cannot sync or compact from local state.",
        versions=("0.5.0 or later",),
        cause="The meta dir was cleaned or restored partly (a volume reset, a tmp cleaner, two processes sharing "
        "it), or the database was restored without removing the meta dir.",
        fix="Stop Litestream; on 0.5.7 or later run `litestream reset DB` (clears local state; the next sync takes "
        "a fresh snapshot), on older 0.5 releases remove the meta dir `.<db>-litestream` by hand; then start it.",
        applies="0.5.0-beta1..",
        upstream=GH + "issues/784",
    ),
    Signature(
        id="ltx-decode-error",
        pattern=r"extract timestamp from LTX header: (?:unexpected )?EOF|decode (?:database|header|ltx \w+|page \d*)"
        r"[^\"]*?(?:EOF|invalid|checksum|flags)|no flags allowed|ltx verification failed"
        r"|nonsequential page numbers|invalid LTX|ltx: checksum mismatch|non-contiguous transaction ids",
        severity=Severity.ERROR,
        title="An LTX file could not be decoded (read back empty, truncated or from an incompatible writer)",
        meaning="0.5 reads LTX files back for compaction and restore; this one ended early or carries a header "
        "the reader rejects, so compaction at that level (or the restore) stops.",
        versions=("0.5.0 or later",),
        cause="Ranked: (1) a storage read returning an empty body (GCS/R2 in 0.5.1–0.5.2: `extract timestamp from "
        "LTX header: EOF`, `decode header: EOF`, fixed upstream, issue #800/#848); (2) LTX files written with the "
        "no-checksum flag by a 0.5 pre-release read by 0.5.0 (`no flags allowed`, issue #754); (3) snapshots at L0 "
        "under burst load (`nonsequential page numbers`, issue #1199); (4) a truncated download.",
        fix="Upgrade to the newest 0.5 release. If it persists: stop Litestream, `litestream reset DB` (0.5.7+) so "
        "the next sync writes a fresh snapshot, and check a restore with `-integrity-check full`.",
        applies="0.5.0-beta1..",
        upstream=GH + "issues/800",
    ),
    Signature(
        id="page-size-not-initialized",
        pattern=r"page size not initialized yet",
        severity=Severity.INFO,
        title="Compaction ran before the database was opened (start-up noise)",
        meaning="A compaction tick fired before the first sync read the page size; the next tick works. 0.5.7 "
        "demoted the message to DEBUG.",
        versions=("0.5.0–0.5.6",),
        cause="Start-up ordering in 0.5.0–0.5.6 (seen in issue #811's log).",
        fix="Nothing, unless it repeats long after start: then read the errors around it.",
        applies="0.5.0-beta1..0.5.6",
        fixed_in="0.5.7",
        upstream=GH + "issues/811",
    ),
)
