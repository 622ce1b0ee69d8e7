# SPDX-License-Identifier: Apache-2.0
"""Mutation testing of one module at a time with mutmut 3 (a developer command, not in CI).

    python tests/mutation.py edvr/metrics.py        # mutate one module, run its tests
    python tests/mutation.py --list                 # the modules and their test files
    python tests/mutation.py edvr/metrics.py --show # list surviving mutants with diffs

Each module gets its own working folder ``mutants/<module>/`` (git-ignored) holding links
to ``edvr/``, ``tests/`` and the other top-level files the tests read, and a generated ``setup.cfg`` whose
``[mutmut]`` section mutates only that module and runs only the test files listed in
``MODULE_TESTS``. mutmut copies the tree into ``mutants/<module>/mutants/``, caches results
there (a rerun tests only functions that changed) and runs one mutant per child process;
``--max-children`` (default 1) keeps a shared machine usable. The summary line printed at
the end counts killed / survived / timeout / no tests; ``tests/mutation_equivalents.md``
lists the survivors that cannot be killed and why.
"""
import argparse
import configparser
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NET_TESTS = ['tests/models/test_edvr_net.py', 'tests/models/test_center_frame.py',
             'tests/models/test_dcn_pack.py']

# module -> test files that exercise it (fast ones; each mutant reruns the tests that
# reached the mutated function during mutmut's first, instrumented run).
MODULE_TESTS = {
    'edvr/settings.py': ['tests/engine/test_settings.py', 'tests/test_settings_boundaries.py'],
    'edvr/config.py': ['tests/test_config.py', 'tests/test_config_edges.py'],
    'edvr/registry.py': ['tests/test_registry.py', 'tests/test_registry_messages.py'],
    'edvr/solver.py': ['tests/test_solver.py', 'tests/test_solver_defaults.py'],
    'edvr/metrics.py': ['tests/test_metrics.py', 'tests/test_metric_options.py',
                        'tests/test_metric_properties.py'],
    'edvr/engine/ema.py': ['tests/engine/test_ema.py'],
    'edvr/datasets/frame_index.py': ['tests/datasets/test_frame_index.py',
                                     'tests/datasets/test_frame_index_edges.py'],
    'edvr/datasets/transforms.py': ['tests/datasets/test_transforms.py',
                                    'tests/datasets/test_transform_edges.py'],
    'edvr/utils/safe_pickle.py': ['tests/safety/test_safe_loading.py',
                                  'tests/safety/test_bounded_readers.py',
                                  'tests/safety/test_pickle_edges.py'],
    'edvr/convert/torch_checkpoint.py': ['tests/convert/test_torch_checkpoint.py',
                                         'tests/safety/test_bounded_readers.py',
                                         'tests/convert/test_pth_edges.py'],
    'edvr/deploy/feature_cache.py': ['tests/deploy/test_feature_cache.py',
                                     'tests/deploy/test_feature_cache_accounting.py'],
    'edvr/deploy/encoder.py': ['tests/deploy/test_video_encoder.py',
                               'tests/deploy/test_encoder_edges.py'],
    'edvr/engine/stop_signals.py': ['tests/engine/test_stop_signals.py',
                                    'tests/engine/test_stop_requests.py'],
    'edvr/engine/run_folder.py': ['tests/engine/test_run_folders.py'],
    'edvr/engine/distributed.py': ['tests/engine/test_process_agreement.py',
                                   'tests/engine/test_rank_agreement.py'],
    'edvr/utils/output_paths.py': ['tests/deploy/test_output_paths.py',
                                   'tests/utils/test_writer_edges.py'],
    'edvr/utils/writer.py': ['tests/edges/test_writer.py', 'tests/utils/test_writer_edges.py'],
    'edvr/utils/video_reader.py': ['tests/utils/test_video_reader_edges.py'],
    'edvr/weights.py': ['tests/engine/test_checkpoint.py', 'tests/engine/test_weights_values.py',
                        'tests/engine/test_run_folders.py',
                        'tests/safety/test_safe_loading.py', 'tests/engine/test_process_agreement.py',
                        'tests/engine/test_rank_agreement.py'],
    'edvr/utils/imresize.py': ['tests/datasets/test_imresize.py',
                               'tests/utils/test_imresize_properties.py'],
    'edvr/deploy/video.py': ['tests/deploy/test_video_parts.py'],
    'edvr/models/edvr_model.py': ['tests/models/test_edvr_model.py'],
    'edvr/models/losses.py': ['tests/models/test_losses.py'],
    'edvr/models/edvr_net.py': NET_TESTS + ['tests/models/test_edvr_net_arguments.py'],
    'edvr/models/blocks.py': NET_TESTS + ['tests/models/test_edvr_net_arguments.py'],
    'edvr/models/pcd_align.py': NET_TESTS + ['tests/models/test_edvr_net_arguments.py'],
    'edvr/models/tsa_fusion.py': NET_TESTS + ['tests/models/test_edvr_net_arguments.py'],
    'edvr/models/predeblur.py': NET_TESTS,
    'edvr/engine/trainer.py': ['tests/engine/test_trainer_parts.py', 'tests/engine/test_train_log.py'],
}

# modules whose tests are too slow to run once per mutant on a shared 2-core machine: only
# the mutants of these functions (mutmut's names: ``x_<function>``, ``xǁ<Class>ǁ<method>``)
ONLY_FUNCTIONS = {
    'edvr/engine/trainer.py': ['xǁTrainerǁvalidate', 'xǁTrainerǁ_train_loop', 'xǁTrainerǁ_log',
                               'xǁTrainerǁ_summary', 'xǁTrainerǁ_write_snapshot', 'xǁTrainerǁsave',
                               'xǁTrainerǁ_check_replicas_agree', 'xǁTrainerǁ_save_best_weights',
                               'xǁTrainerǁtrain', 'xǁTrainerǁbicubic_baseline',
                               'xǁTrainerǁeval_weights', 'x__evaluated_weights', 'x__first_given'],
}

# modules whose mutants run in a process forked from a server that never ran the tests:
# video.py's tests leave encoder threads and progress bars behind, and a worker forked
# from the process that ran them can hang (mutmut then waits for its timeout)
FORKSERVER = {'edvr/deploy/video.py'}

# lines left unmutated, with the reason: in writer.py the probe `os.kill(pid, 0)` mutated to
# another signal number would signal the mutation runner itself (a test names its parent,
# the runner, as the live process whose temporaries must stay)
DO_NOT_MUTATE = {'edvr/utils/writer.py': [r'os\.kill\(pid, 0\)']}

# copied next to the mutated package so tests that read configs, docs or tools find them
LINKED = ('edvr', 'tests', 'configs', 'tools', 'docs', 'benchmarks', 'README.md', 'README_cn.md',
          'setup.py', 'requirements.txt', 'requirements-test.txt')


def work_dir(module):
    return os.path.join(ROOT, 'mutants', module[:-3].replace('/', '.'))


def write_setup_cfg(module, tests, path, isolation='fork'):
    """The repository's pytest options plus a [mutmut] section for this one module."""
    source = configparser.ConfigParser()
    source.read(os.path.join(ROOT, 'setup.cfg'))
    cfg = configparser.ConfigParser()
    cfg['tool:pytest'] = {k: v for k, v in source['tool:pytest'].items() if k != 'testpaths'}
    cfg['mutmut'] = {
        'source_paths': 'edvr',
        'only_mutate': module,
        'also_copy': '\n'.join(LINKED[2:]),
        'pytest_add_cli_args_test_selection': '\n'.join(tests),
        'use_git_change_detection': 'false',
        'process_isolation': isolation,
    }
    if module in DO_NOT_MUTATE:   # (an empty value would be a pattern matching every line)
        cfg['mutmut']['do_not_mutate_patterns'] = '\n'.join(DO_NOT_MUTATE[module])
    with open(path, 'w') as f:
        cfg.write(f)


def prepare(module, isolation='fork'):
    tests = MODULE_TESTS[module]
    isolation = 'forkserver' if module in FORKSERVER else isolation
    work = work_dir(module)
    os.makedirs(work, exist_ok=True)
    for name in LINKED:
        link = os.path.join(work, name)
        if not os.path.islink(link):
            os.symlink(os.path.join(ROOT, name), link)
    write_setup_cfg(module, tests, os.path.join(work, 'setup.cfg'), isolation)
    return work, tests


def equivalents():
    """{mutant name: fingerprint} of the mutants listed in tests/mutation_equivalents.md."""
    with open(os.path.join(ROOT, 'tests', 'mutation_equivalents.md'), encoding='utf-8') as f:
        return dict(re.findall(r'^- `([\w.ǁ]+__mutmut_\d+)` \[(\w+)\]', f.read(), re.M))


def mutant_diff(work, name):
    """(diff text, fingerprint): mutmut's diff of mutant ``name`` and a hash of its changed
    lines, so that a renumbered mutant is not taken for the one listed under its name."""
    text = subprocess.run([sys.executable, '-m', 'mutmut', 'show', name], cwd=work,
                          capture_output=True, text=True).stdout
    changed = [line for line in text.splitlines()
               if line[:1] in '+-' and not line.startswith(('+++', '---'))]
    return text, hashlib.sha1('\n'.join(changed).encode()).hexdigest()[:8]


def tests_digest(tests):
    """A hash of the test files, the conftest they use and the package's sources."""
    digest = hashlib.sha256()
    package = sorted(os.path.relpath(os.path.join(folder, name), ROOT)
                     for folder, _, names in os.walk(os.path.join(ROOT, 'edvr'))
                     for name in names if name.endswith('.py'))
    for name in sorted(tests) + ['tests/conftest.py'] + package:
        with open(os.path.join(ROOT, name), 'rb') as f:
            digest.update(name.encode() + f.read())
    return digest.hexdigest()


def patterns(module):
    """fnmatch patterns of the mutants to run (all of ``module``'s unless restricted)."""
    prefix = module[:-3].replace('/', '.') + '.'
    return [f'{prefix}{name}__mutmut_*' for name in ONLY_FUNCTIONS.get(module, ['*'])]


def selected(module, name):
    return any(fnmatch.fnmatch(name, p) for p in patterns(module))


def mutmut_run(work, names, max_children, log):
    """``mutmut run`` in ``work`` (only the mutants ``names`` if given); its exit code."""
    return subprocess.call([sys.executable, '-m', 'mutmut', 'run', '--max-children',
                            str(max_children), *names], cwd=work, stdout=log,
                           stderr=subprocess.STDOUT)


def results(work):
    """[(mutant name, status)] of the last run in ``work``."""
    lines = subprocess.run([sys.executable, '-m', 'mutmut', 'results', '--all', 'true'], cwd=work,
                           capture_output=True, text=True).stdout.splitlines()
    return [tuple(line.strip().rsplit(': ', 1)) for line in lines if ': ' in line]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('module', nargs='?', help='e.g. edvr/metrics.py')
    parser.add_argument('--list', action='store_true', help='print the modules and their tests')
    parser.add_argument('--show', action='store_true',
                        help='print the diff of every surviving mutant of the last run')
    parser.add_argument('--fresh', action='store_true', help='forget cached results first')
    parser.add_argument('--max-children', type=int, default=1)
    args = parser.parse_args(argv)
    if args.list or not args.module:
        for module, tests in MODULE_TESTS.items():
            print(module, ' '.join(tests))
        return 0
    module = os.path.relpath(os.path.abspath(args.module), ROOT)
    if module not in MODULE_TESTS:
        parser.error(f'{module} has no entry in MODULE_TESTS of {__file__}')
    work, tests = prepare(module)
    if args.fresh:
        shutil.rmtree(os.path.join(work, 'mutants'), ignore_errors=True)
    if not args.show:
        print(f'{module}: tests {" ".join(tests)}', flush=True)
        # mutmut keeps a mutant's result until its function changes, and which tests
        # reach which function until a test is added; when the tests or the package
        # changed, it maps the tests again and every mutant not yet killed runs again
        stamp = os.path.join(work, 'tests.sha256')
        digest = tests_digest(tests)
        known = os.path.exists(os.path.join(work, 'mutants'))
        changed = known and (not os.path.exists(stamp) or open(stamp).read() != digest)
        if changed and os.path.exists(os.path.join(work, 'mutants', 'mutmut-stats.json')):
            os.remove(os.path.join(work, 'mutants', 'mutmut-stats.json'))
        with open(os.path.join(work, 'run.log'), 'w') as log:
            names = []
            if module in ONLY_FUNCTIONS:   # mutmut reruns every mutant it is given by name
                earlier = results(work) if known else []
                names = [n for n, status in earlier if selected(module, n) and
                         status == 'not checked'] if earlier else patterns(module)
            code = mutmut_run(work, names, args.max_children, log) \
                if names or module not in ONLY_FUNCTIONS else 0
            if code:
                print(f'mutmut failed (exit code {code}); its output is in {work}/run.log')
                return code
            if changed:
                again = [name for name, status in results(work)
                         if status != 'killed' and selected(module, name)]
                if again:
                    mutmut_run(work, again, args.max_children, log)
            # Forked from the process that ran the tests once (mutmut's fast default), a
            # worker whose tests all pass may abort in Paddle's teardown ("suspicious", or
            # exit code 255, which mutmut files as "timeout"): those mutants run again,
            # each in a process forked from a server that never ran Paddle (slower, but it
            # tells survived from killed; a real endless loop is a timeout again).
            again = [name for name, status in results(work)
                     if status in ('suspicious', 'timeout') and selected(module, name)]
            if again:
                prepare(module, isolation='forkserver')
                mutmut_run(work, again, args.max_children, log)
                prepare(module)
        with open(stamp, 'w') as f:
            f.write(digest)
    counts, listed = {}, equivalents()
    prefix = module[:-3].replace('/', '.') + '.'
    for name, status in results(work):
        if not selected(module, name):
            continue
        diff = None
        if status == 'check was interrupted by user':
            status = 'killed'  # the mutant raised KeyboardInterrupt in a test: pytest stopped
        if status == 'survived' and name in listed:
            diff, fingerprint = mutant_diff(work, name)
            if fingerprint == listed.pop(name):
                status = 'equivalent'
            else:
                print(f'{name} is listed as equivalent but is now another mutation')
        counts[status] = counts.get(status, 0) + 1
        if args.show and status in ('survived', 'no tests', 'timeout', 'suspicious', 'segfault'):
            diff, fingerprint = mutant_diff(work, name) if diff is None else (diff, fingerprint)
            print(f'--- {status} [{fingerprint}]\n{diff}', flush=True)
    print(module, ', '.join(f'{v} {k}' for k, v in sorted(counts.items())))
    stale = sorted(n for n in listed if n.startswith(prefix))
    if stale:
        print('listed as equivalent but not surviving now (update tests/mutation_equivalents.md):',
              *stale, sep='\n  ')
    return 0


if __name__ == '__main__':
    sys.exit(main())
