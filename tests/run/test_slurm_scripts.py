"""SLURM scripts rendered from options, tested as strings (no SLURM needed).

The sweep script's control flow (warning signal, requeue, exit statuses) is exercised
with stand-ins for srun, scontrol, Python and the driver; tests/run/test_slurm_cluster.py
runs the same script on a real SLURM.
"""

import doctest
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import SLURM_DIR

from pipeline.cli import main
from pipeline.cli.errors import EXIT_INTERRUPTED
from pipeline.run import site, slurm
from pipeline.run.clusters import ClusterError
from pipeline.run.site import load_site_config, options_from_mapping, package_file
from pipeline.run.slurm import JOBQUEUE_MALLOC, jobqueue_kwargs, render_header, render_sweep_script
from pipeline.sweep.cluster import SlurmOptions, walltime_seconds

FULL = SlurmOptions(
    partition="gpu,batch",
    account="proj42",
    walltime="1-12:00:00",
    nodes=2,
    ntasks=8,
    cpus_per_task=4,
    memory="16G",
    gpus=1,
    interface="ib0",
    warning_seconds=600,
    job_name="big-sweep",
    extra_directives=("--constraint=a100", "--qos=long"),
)


def sbatch_lines(text):
    return [line for line in text.splitlines() if line.startswith("#SBATCH")]


# ---------------------------------------------------------------- header


def test_header_with_every_option_set():
    assert render_header(FULL) == textwrap.dedent(
        """\
        #SBATCH --job-name=big-sweep
        #SBATCH --partition=gpu,batch
        #SBATCH --account=proj42
        #SBATCH --nodes=2
        #SBATCH --ntasks=8
        #SBATCH --cpus-per-task=4
        #SBATCH --mem-per-cpu=4G
        #SBATCH --gpus-per-task=1
        #SBATCH --time=1-12:00:00
        #SBATCH --requeue
        #SBATCH --signal=B:USR1@600
        #SBATCH --open-mode=append
        #SBATCH --output=%x-%j.out
        #SBATCH --constraint=a100
        #SBATCH --qos=long
        """
    )


def test_unset_options_render_no_directive():
    header = render_header(SlurmOptions())
    for absent in ("--partition", "--account", "--mem", "--gpus", "--gres", "--constraint"):
        assert absent not in header
    assert sbatch_lines(header) == [
        "#SBATCH --job-name=nqs-ent",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --time=01:00:00",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@300",
        "#SBATCH --open-mode=append",
        "#SBATCH --output=%x-%j.out",
    ]


def test_header_keywords_override_options():
    header = render_header(FULL, job_name="other", nodes=1, ntasks=3, gpus=0)
    assert "#SBATCH --job-name=other\n" in header
    assert "#SBATCH --nodes=1\n" in header
    assert "#SBATCH --ntasks=3\n" in header
    assert "--gpus" not in header
    with pytest.raises(ValueError, match="'ntasks'"):
        render_header(FULL, ntasks=0)


@pytest.mark.parametrize(
    ("memory", "cpus", "per_cpu"),
    [
        ("8G", 4, "2G"),
        ("500M", 3, "167M"),
        ("1T", 1, "1024G"),
        ("512K", 1, "1M"),
        ("3g", 2, "1536M"),
    ],
)
def test_memory_is_requested_per_cpu(memory, cpus, per_cpu):
    header = render_header(SlurmOptions(memory=memory, cpus_per_task=cpus))
    assert f"#SBATCH --mem-per-cpu={per_cpu}\n" in header


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("walltime", "1:00"),
        ("walltime", "01:60:00"),
        ("walltime", "1-24:00:00"),
        ("walltime", "00:00:00"),
        ("walltime", "1 day"),
        ("walltime", 3600),
        ("memory", "8GB"),
        ("memory", "8"),
        ("memory", "0G"),
        ("memory", "-1G"),
        ("memory", "1.5G"),
        ("memory", 8),
        ("cpus_per_task", 0),
        ("cpus_per_task", -2),
        ("cpus_per_task", 1.5),
        ("cpus_per_task", "4"),
        ("cpus_per_task", True),
        ("ntasks", 0),
        ("nodes", 0),
        ("gpus", -1),
        ("warning_seconds", 0),
        ("warning_seconds", 70000),
        ("warning_seconds", 3600),
        ("partition", "de bug"),
        ("partition", ""),
        ("account", "a;rm -rf"),
        ("job_name", "my job"),
        ("interface", "eth0 lo"),
        ("extra_directives", "--qos=long"),
        ("extra_directives", ["constraint=a100"]),
        ("extra_directives", ["#SBATCH --qos=long"]),
        ("extra_directives", ["--qos=long\n--exclusive"]),
        ("extra_directives", ["--time=02:00:00"]),
        ("extra_directives", ["-t 02:00:00"]),
        ("extra_directives", ["-c4"]),
        ("extra_directives", ["--gres=gpu:2"]),
        ("extra_directives", ["--mem=4G"]),
        ("setup", "module load cuda"),
        ("setup", [""]),
        ("python", ""),
        ("python", "conda run python"),
    ],
)
def test_invalid_values_are_rejected_naming_the_key(key, value):
    with pytest.raises(ValueError, match=f"slurm option '{key}'"):
        SlurmOptions(**{key: value})


def test_errors_say_how_to_fix():
    with pytest.raises(ValueError, match=r"HH:MM:SS or D-HH:MM:SS \(e\.g\. '01:30:00'"):
        SlurmOptions(walltime="90")
    with pytest.raises(ValueError, match=r"e\.g\. '500M', '8G', '1T'"):
        SlurmOptions(memory="8GB")
    with pytest.raises(ValueError, match="use that key instead"):
        SlurmOptions(extra_directives=["--partition=x"])
    with pytest.raises(ValueError, match="lower it or raise walltime"):
        SlurmOptions(walltime="00:05:00", warning_seconds=300)
    with pytest.raises(ValueError, match="raise ntasks or lower nodes"):
        SlurmOptions(nodes=2, ntasks=1)


def test_replace_revalidates():
    with pytest.raises(ValueError, match="'memory'"):
        replace(FULL, memory="lots")


def test_memory_unit_is_normalised():
    assert SlurmOptions(memory="8g").memory == "8G"


@pytest.mark.parametrize(
    ("walltime", "seconds"),
    [
        ("00:00:01", 1),
        ("00:30:00", 1800),
        ("01:00:00", 3600),
        ("48:00:00", 172800),
        ("0-00:10:00", 600),
        ("1-00:00:00", 86400),
        ("2-12:30:15", 2 * 86400 + 12 * 3600 + 30 * 60 + 15),
    ],
)
def test_walltime_seconds(walltime, seconds):
    assert walltime_seconds(walltime) == seconds


@pytest.mark.parametrize("walltime", ["", "60", "1:00", "1-1", "00:61:00", "1-25:00:00", "x"])
def test_walltime_seconds_rejects(walltime):
    with pytest.raises(ValueError, match=r"HH:MM:SS|out of range|is zero"):
        walltime_seconds(walltime)


# ---------------------------------------------------------------- site config


def test_site_config_loads_and_has_no_unset_directives():
    options = load_site_config()
    assert options.partition == "debug"
    assert options.account is None
    assert options.interface == "lo"
    assert options.gpus == 0
    header = render_header(options)
    assert "--account" not in header
    assert "--gpus" not in header


def test_site_config_gpu_table():
    options = load_site_config(gpu=True)
    assert options.gpus == 1
    assert "#SBATCH --gpus-per-task=1\n" in render_header(options)
    assert load_site_config(gpu=True, overrides={"gpus": 2}).gpus == 2


def test_site_config_path_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "site.toml"
    path.write_text('walltime = "00:20:00"\nwarning_seconds = 60\naccount = "abc"\n')
    monkeypatch.setenv(site.CONFIG_ENV, str(path))
    options = load_site_config()
    assert (options.walltime, options.account, options.partition) == ("00:20:00", "abc", None)


def test_site_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=site.CONFIG_ENV):
        load_site_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("walltime = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_site_config(bad)
    bad.write_text('walltime = "01:00:00"\ncpus = 4\n')
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'cpus' in .*bad\.toml"):
        load_site_config(bad)
    with pytest.raises(ValueError, match=r"'gpu' .* must be a table"):
        options_from_mapping({"gpu": 1})
    with pytest.raises(ValueError, match=r"'gpu_count' in the \[gpu\] table"):
        options_from_mapping({"gpu": {"gpu_count": 1}})
    with pytest.raises(ValueError, match=r"'walltim' in the overrides"):
        load_site_config(overrides={"walltim": "01:00:00"})


# ---------------------------------------------------------------- sweep scripts


@pytest.mark.parametrize(("name", "gpu"), [("sweep.sbatch", False), ("sweep-gpu.sbatch", True)])
def test_committed_scripts_equal_rendered(name, gpu):
    rendered = render_sweep_script(load_site_config(gpu=gpu), gpu=gpu)
    committed = (SLURM_DIR / name).read_text()
    assert committed == rendered, (
        f"slurm/{name} is stale: nqs-ent slurm render{' --gpu' if gpu else ''} > slurm/{name}"
    )


def test_render_command_prints_the_script(capsys):
    assert main(["slurm", "render", "--gpu"]) == 0
    assert capsys.readouterr().out == (SLURM_DIR / "sweep-gpu.sbatch").read_text()


def test_sweep_script_layout():
    script = render_sweep_script(load_site_config())
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert all(i < first_command for i, line in enumerate(lines) if line.startswith("#SBATCH"))
    for expected in (
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@300",
        "IFACE=lo",
        "BACKEND=numpy",
        "WORKER_MEMORY=2GiB",
        "trap on_warning USR1",
        'scontrol requeue "$SLURM_JOB_ID"',
        "--nthreads 1",
    ):
        assert expected in script
    assert "\nGPU=0\n" in script


def test_gpu_sweep_script():
    script = render_sweep_script(load_site_config(gpu=True))
    assert "#SBATCH --gpus-per-task=1" in script
    assert "BACKEND=cupy" in script
    assert "GPU=1" in script
    assert "cupy.cuda.runtime.getDeviceCount()" in script
    with pytest.raises(ValueError, match="gpus' >= 1"):
        render_sweep_script(load_site_config(), gpu=True)
    with pytest.raises(ValueError, match="render with gpu=True"):
        render_sweep_script(load_site_config(gpu=True), gpu=False)


def test_spec_and_store_defaults_are_quoted():
    script = render_sweep_script(SlurmOptions(), "my spec.toml", "it's.zarr")
    assert "DEFAULT_SPEC='my spec.toml'" in script
    assert "DEFAULT_STORE='it'\"'\"'s.zarr'" in script
    bash_syntax_ok(script)


def test_setup_lines_and_python_are_rendered():
    options = SlurmOptions(setup=["module load cuda/12", "source ~/env/bin/activate"], python="py")
    script = render_sweep_script(options)
    assert "site_setup() {\n    module load cuda/12\n    source ~/env/bin/activate\n}" in script
    assert "PYTHON=py\n" in script


def bash_syntax_ok(text):
    result = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["sweep.sbatch", "sweep-gpu.sbatch", "dev-cluster.sh"])
def test_scripts_have_valid_bash_syntax(name):
    bash_syntax_ok((SLURM_DIR / name).read_text())


def test_sweep_script_needs_arguments_and_slurm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    script = SLURM_DIR / "sweep.sbatch"
    run = subprocess.run(["bash", script], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2
    assert "usage: sbatch slurm/sweep.sbatch SPEC STORE" in run.stderr
    run = subprocess.run(
        ["bash", script, "s.toml", "s.zarr"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert run.returncode == 2
    assert "not inside a SLURM job" in run.stderr


# ---------------------------------------------------------------- sweep control flow
# Stand-ins: srun runs its command here, scontrol logs its arguments, squeue gives the time
# left, "python" plays the Dask scheduler (writes the scheduler file) and workers, or runs
# the GPU check with the real Python, and nqs-ent plays the driver.

FAKE_SRUN = """#!/usr/bin/env bash
while [[ $1 == -* ]]; do shift; done
exec "$@"
"""
FAKE_SCONTROL = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG/scontrol"
"""
FAKE_SQUEUE = """#!/usr/bin/env bash
echo 4:59
"""
FAKE_PYTHON = """#!/usr/bin/env bash
if [[ $1 == -c ]]; then exec "$REAL_PYTHON" "$@"; fi
echo $$ >> "$FAKE_LOG/pids"
case $2 in
distributed.cli.dask_scheduler) echo '{"address": "tcp://127.0.0.1:1"}' > "$4" ;;
distributed.cli.dask_worker) [[ ${FAKE_WORKER:-} == die ]] && exit 1 ;;
esac
exec sleep 60
"""
FAKE_DRIVER = """#!/usr/bin/env bash
echo "$*" > "$FAKE_LOG/driver"
trap 'touch "$FAKE_LOG/stopping"; echo "driver: stopping"; exit 75' USR1 TERM
if [[ -n ${FAKE_DRIVER_STATUS:-} ]]; then sleep 1; exit "$FAKE_DRIVER_STATUS"; fi
while :; do sleep 0.1; done
"""


@pytest.fixture
def fake_job(tmp_path):
    """Run the sweep script outside SLURM, with the stand-ins on the PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in [
        ("srun", FAKE_SRUN),
        ("scontrol", FAKE_SCONTROL),
        ("squeue", FAKE_SQUEUE),
        ("python", FAKE_PYTHON),
        ("nqs-ent", FAKE_DRIVER),
    ]:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "log"
    log.mkdir()
    fake_python = str(bin_dir / "python")
    scripts = {gpu: tmp_path / f"job-{gpu}.sh" for gpu in (False, True)}
    for gpu, script in scripts.items():
        options = SlurmOptions(python=fake_python, gpus=int(gpu))
        script.write_text(render_sweep_script(options))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env |= {
        "PATH": f"{bin_dir}:{env['PATH']}",
        "SLURM_JOB_ID": "4242",
        "SLURM_NTASKS": "1",
        "FAKE_LOG": str(log),
        "REAL_PYTHON": sys.executable,
    }

    def start(gpu=False, **extra_env):
        return subprocess.Popen(
            ["bash", str(scripts[gpu]), "spec.toml", "out.zarr"],
            cwd=tmp_path,
            env=env | extra_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    start.log = log
    start.workdir = tmp_path / "nqs-ent-job-4242"
    yield start
    for pid in (log / "pids").read_text().split() if (log / "pids").exists() else []:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def running(pid):
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def assert_dask_stopped(log):
    deadline = time.monotonic() + 5
    for pid in (log / "pids").read_text().split():
        while running(pid):
            assert time.monotonic() < deadline, f"stand-in process {pid} still running"
            time.sleep(0.05)


def test_warning_signal_stops_driver_and_requeues(fake_job):
    """The driver hears the warning at once (the job's wait loop sleeps in the background:
    a foreground `sleep 1` delayed the trap by up to a second), and the job requeues."""
    job = fake_job()
    wait_for(fake_job.log / "driver")
    time.sleep(0.2)  # the job is inside its wait loop
    sent = time.monotonic()
    job.send_signal(signal.SIGUSR1)
    wait_for(fake_job.log / "stopping")
    assert time.monotonic() - sent < 0.5, "the warning reached the driver late"
    out, _ = job.communicate(timeout=30)
    assert job.returncode == EXIT_INTERRUPTED, out
    assert (fake_job.log / "scontrol").read_text() == "requeue 4242\n"
    scheduler_file = fake_job.workdir / "scheduler.json"
    assert (fake_job.log / "driver").read_text().split() == [
        "run",
        "spec.toml",
        "--store",
        "out.zarr",
        "--scheduler-file",
        str(scheduler_file),
        "--backend",
        "numpy",
    ]
    assert "SIGUSR1: the walltime is near (time left 4:59)" in out
    assert "driver: stopping" in out
    assert "requeueing job 4242" in out
    assert_dask_stopped(fake_job.log)


@pytest.mark.parametrize("status", [0, 2])
def test_job_exits_with_the_driver_status(fake_job, status):
    job = fake_job(FAKE_DRIVER_STATUS=str(status))
    out, _ = job.communicate(timeout=30)
    assert job.returncode == status, out
    assert not (fake_job.log / "scontrol").exists()
    assert_dask_stopped(fake_job.log)


def test_termination_without_warning_does_not_requeue(fake_job):
    job = fake_job()
    wait_for(fake_job.log / "driver")
    job.send_signal(signal.SIGTERM)
    out, _ = job.communicate(timeout=30)
    assert job.returncode == EXIT_INTERRUPTED, out
    assert not (fake_job.log / "scontrol").exists()


def test_dead_workers_fail_the_job(fake_job):
    job = fake_job(FAKE_WORKER="die")
    out, _ = job.communicate(timeout=30)
    assert job.returncode == 1, out
    assert "the Dask workers exited while the driver was running" in out
    assert not (fake_job.log / "scontrol").exists()


def test_gpu_job_fails_loudly_without_a_gpu(fake_job):
    check = subprocess.run([sys.executable, "-c", slurm.GPU_CHECK], capture_output=True)
    if check.returncode == 0:
        pytest.skip("a GPU is visible here")
    job = fake_job(gpu=True)
    out, _ = job.communicate(timeout=30)
    assert job.returncode == 1, out
    assert "no GPU visible on" in out
    assert "error: no usable GPU on the batch node" in out
    assert not (fake_job.log / "driver").exists()


# ---------------------------------------------------------------- dask-jobqueue


def test_jobqueue_kwargs_for_the_site_config():
    assert jobqueue_kwargs(load_site_config()) == {
        "queue": "debug",
        "cores": 1,
        "processes": 1,
        "job_cpu": 1,
        "memory": "2GiB",
        "job_mem": "2G",
        "walltime": "01:00:00",
        "job_name": "nqs-ent-worker",
        "job_extra_directives": [],
        "job_script_prologue": ["export OMP_NUM_THREADS=1", *JOBQUEUE_MALLOC],
        "worker_extra_args": ["--lifetime", "3300s", "--lifetime-stagger", "150s"],
        "scheduler_options": {"dashboard_address": ":0"},
        "interface": "lo",
    }


def test_jobqueue_lifetime_ends_before_walltime():
    options = SlurmOptions(walltime="00:30:00", warning_seconds=120, memory="1G")
    args = jobqueue_kwargs(options)["worker_extra_args"]
    lifetime = int(args[args.index("--lifetime") + 1].rstrip("s"))
    stagger = int(args[args.index("--lifetime-stagger") + 1].rstrip("s"))
    assert lifetime == 1800 - 120
    assert lifetime + stagger < walltime_seconds(options.walltime)


def test_jobqueue_cluster_table_overrides_and_validates():
    options = load_site_config()
    kwargs = jobqueue_kwargs(options, {"walltime": "00:30:00", "account": "p1"})
    assert kwargs["walltime"] == "00:30:00"
    assert kwargs["account"] == "p1"
    assert kwargs["worker_extra_args"][:2] == ["--lifetime", "1500s"]
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'workers' in the \[cluster\] table"):
        jobqueue_kwargs(options, {"workers": 4})
    with pytest.raises(ValueError, match="'walltime'"):
        jobqueue_kwargs(options, {"walltime": "30 min"})
    with pytest.raises(ValueError, match="one worker per job"):
        jobqueue_kwargs(options, {"gpus": 2})
    with pytest.raises(ValueError, match="needs the memory per worker"):
        jobqueue_kwargs(SlurmOptions())


def test_start_slurm_cluster_validates_before_starting():
    with (
        pytest.raises(ClusterError, match=r"'jobs' in the \[cluster\] table"),
        slurm.start_slurm_cluster({"jobs": 3}),
    ):
        pass
    with pytest.raises(ClusterError, match="'workers'"), slurm.start_slurm_cluster({}, 0):
        pass


def job_script(**kwargs):
    SLURMCluster = pytest.importorskip("dask_jobqueue").SLURMCluster
    with SLURMCluster(**kwargs, asynchronous=False) as cluster:
        return cluster.job_script()


def test_jobqueue_kwargs_render_a_slurmcluster_job_script():
    script = job_script(**jobqueue_kwargs(load_site_config()))
    lines = script.splitlines()
    for expected in (
        "#SBATCH -J nqs-ent-worker",
        "#SBATCH -p debug",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=2G",
        "#SBATCH -t 01:00:00",
        "export OMP_NUM_THREADS=1",
    ):
        assert expected in lines
    assert "#SBATCH -A" not in script
    assert "gpus" not in script
    worker = lines[-1]
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker tcp://127.0.0.1:")
    for expected in (
        "--nthreads 1",
        "--memory-limit 2.00GiB",
        "--lifetime 3300s",
        "--lifetime-stagger 150s",
        "--interface lo",
    ):
        assert expected in worker
    bash_syntax_ok(script)


def test_jobqueue_gpu_job_script():
    options = replace(load_site_config(gpu=True), account="proj", setup=("module load cuda",))
    script = job_script(**jobqueue_kwargs(options))
    lines = script.splitlines()
    for expected in (
        "#SBATCH -A proj",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=16G",
        "#SBATCH --gpus-per-task=1",
        "module load cuda",
    ):
        assert expected in lines
    assert "cupy.cuda.runtime.getDeviceCount()" in script
    assert "--resources GPU=1" in lines[-1]
    bash_syntax_ok(script)


def test_gpu_check_fails_loudly_without_a_gpu():
    result = subprocess.run([sys.executable, "-c", slurm.GPU_CHECK], capture_output=True, text=True)
    if result.returncode == 0:
        pytest.skip(f"a GPU is visible here: {result.stdout.strip()}")
    assert "no GPU visible on" in result.stderr


def test_module_doctests():
    assert doctest.testmod(slurm, optionflags=doctest.ELLIPSIS).failed == 0


def test_sweep_body_requeues_on_the_drivers_interrupted_status():
    """The shell body cannot import the exit statuses: it repeats the one it acts on."""
    body = package_file("sweep-body.sh")
    assert f"EX_TEMPFAIL={EXIT_INTERRUPTED}\n" in body
