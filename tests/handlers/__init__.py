"""Tests of the Lambda handlers (handlers/).

This file only exists so that pytest imports tests/handlers/conftest.py under a package name:
without it, this conftest and tests/conftest.py would both be the module "conftest", and test
modules that do `from conftest import ...` could get the wrong one.
"""
