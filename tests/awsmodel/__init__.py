"""A model of AWS's behaviour for the tests: what AWS answers that moto never does (conflicts,
eventual consistency, resources that take seconds to settle, throttling, latency), played with
a seed in front of moto in process. See docs/testing-against-aws-behaviour.md."""
