"""Run Nova's driver suite for nova-lxc and count what it proved.

A raw pass count means little for _VirtDriverTestCase: its
catch_notimplementederror decorator turns a driver's NotImplementedError
into a pass.  This runs the glue (test_novalxc_driver) with testtools and
sorts the outcomes into (for Nova's suite)

  real:    passed, and no NotImplementedError was caught on the way
  notimpl: passed only because the decorator caught NotImplementedError
           (noted by the glue in $NLX_NOVA_RECORD)
  failed:  failures and errors

and the adapter's own checks (test_novalxc_adapter) apart; then prints
the plain "N passed, N failed" line.  Exit status 0 only
without failures.  Usage: classify.py [TEST_ID_SUBSTRING...]
"""

import json
import os
import sys
import time
import unittest

import testtools

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class _Result(testtools.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}
        self.started = {}

    def startTest(self, test):
        super().startTest(test)
        self.started[test.id()] = time.monotonic()

    def _note(self, test, outcome, detail=''):
        took = time.monotonic() - self.started.get(test.id(), time.monotonic())
        self.outcomes[test.id()] = outcome
        print('%-7s %5.1fs %s%s' % (outcome, took, test.id().rsplit('.', 1)[-1],
                                     detail), flush=True)

    def addSuccess(self, test, details=None):
        super().addSuccess(test, details=details)
        self._note(test, 'ok')

    def addFailure(self, test, err=None, details=None):
        super().addFailure(test, err=err, details=details)
        self._note(test, 'FAIL')

    def addError(self, test, err=None, details=None):
        super().addError(test, err=err, details=details)
        self._note(test, 'ERROR')

    def addSkip(self, test, reason=None, details=None):
        super().addSkip(test, reason=reason, details=details)
        if reason is None and details and 'reason' in details:
            reason = details['reason'].as_text()
        self._note(test, 'skip', ' (%s)' % reason)

    def addUnexpectedSuccess(self, test, details=None):
        super().addUnexpectedSuccess(test, details=details)
        self._note(test, 'FAIL')


def _iter(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter(t)
        else:
            yield t


def main(argv):
    record = os.environ['NLX_NOVA_RECORD']
    import test_novalxc_adapter
    import test_novalxc_driver
    loader = unittest.TestLoader()
    tests = [t for m in (test_novalxc_driver, test_novalxc_adapter)
             for t in _iter(loader.loadTestsFromModule(m))
             if not argv[1:] or any(a in t.id() for a in argv[1:])]
    result = _Result()
    unittest.TestSuite(tests).run(result)

    notimpl_methods = {}
    if os.path.exists(record):
        with open(record) as f:
            for line in f:
                rec = json.loads(line)
                notimpl_methods.setdefault(rec['test'], set()).add(
                    rec['method'])
    real = notimpl = failed = skipped = 0
    own_passed = own_failed = 0
    for test_id, outcome in sorted(result.outcomes.items()):
        if '.NovaLxcAdapterTestCase.' in test_id:
            # The adapter's own checks, counted apart from Nova's suite.
            if outcome == 'ok':
                own_passed += 1
            elif outcome != 'skip':
                own_failed += 1
            continue
        if outcome == 'ok':
            if test_id in notimpl_methods:
                notimpl += 1
            else:
                real += 1
        elif outcome == 'skip':
            skipped += 1
        else:
            failed += 1

    for test, err in result.errors + result.failures:
        print('=' * 70)
        print('FAIL: %s' % test.id())
        print(err)
    print()
    print('NotImplementedError passes, by method:')
    methods = {}
    for test_id in notimpl_methods:
        if result.outcomes.get(test_id) == 'ok':
            for m in notimpl_methods[test_id]:
                methods[m] = methods.get(m, 0) + 1
    print('  ' + ', '.join('%s (%d)' % kv for kv in sorted(methods.items())))
    print()
    print('Nova driver suite: %d passed exercising real code, %d passed only '
          'through NotImplementedError, %d failed, %d skipped'
          % (real, notimpl, failed, skipped))
    print('The adapter\'s own checks (tests/nova/test_novalxc_adapter.py): '
          '%d passed, %d failed' % (own_passed, own_failed))
    print('%d passed, %d failed' % (real + notimpl + own_passed,
                                    failed + own_failed))
    return 1 if failed or own_failed or not result.outcomes else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
