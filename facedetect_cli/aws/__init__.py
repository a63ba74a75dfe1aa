"""The boundary to AWS: the only package that imports botocore.

Sessions and clients (session.py, client.py), what every call passes through on its way out
(hooks.py: counting, injected faults and latency), AWS's errors turned into the tool's own
(errors.py), and how the tool waits and retries on AWS's eventual consistency (retry.py).
Nothing here knows about the stack: it is told where to connect and what to call.
"""
