//! The job list, one job at a time under its lock, failures, status and the local worker pool.

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;
use smallscale_sweep::{
    Job, JobFiles, JobRun, JobState, SbatchParams, SweepError, SweepPart, SweepPlan, job_id,
    read_job, read_jobs, read_plan, run_job, run_local, sweep_status, write_plan,
};

fn jobs(n: usize) -> Vec<Job> {
    (0..n)
        .map(|i| Job::new(i, "test", "main", format!("x={i}"), 1, json!({ "x": i })))
        .collect()
}

fn plan() -> SweepPlan {
    SweepPlan {
        parts: vec![SweepPart {
            name: "main".into(),
            kind: "test".into(),
            args: vec!["test".into()],
            settings: json!({}),
        }],
        sbatch: SbatchParams::default(),
        smallscale: "/opt/smallscale".into(),
    }
}

fn planned(dir: &Path, n: usize) -> Vec<Job> {
    let jobs = jobs(n);
    let plan = plan();
    write_plan(dir, &plan, &jobs, &plan.sbatch.clone().check().unwrap()).unwrap();
    jobs
}

fn double(job: &Job) -> Result<serde_json::Value, String> {
    Ok(json!({ "double": job.config["x"].as_u64().ok_or("no x")? * 2 }))
}

#[test]
fn a_plan_round_trips_and_another_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = planned(dir.path(), 4);
    assert_eq!(read_jobs(dir.path()).unwrap(), jobs);
    assert_eq!(read_job(dir.path(), 3).unwrap(), jobs[3]);
    assert_eq!(read_plan(dir.path()).unwrap(), plan());
    let script = std::fs::read_to_string(dir.path().join("sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3\n"), "{script}");
    assert!(script.contains("SMALLSCALE=\"${SMALLSCALE:-/opt/smallscale}\""));
    assert!(dir.path().join("logs").is_dir());
    assert!(matches!(
        read_job(dir.path(), 4),
        Err(SweepError::NoSuchJob { jobs: 4, .. })
    ));
    // The same jobs again: fine (the SLURM settings may change).
    let mut other_settings = plan();
    other_settings.sbatch.time = "10".into();
    let sbatch = other_settings.sbatch.clone().check().unwrap();
    assert!(write_plan(dir.path(), &other_settings, &jobs, &sbatch).unwrap());
    // Other jobs: refused, naming what differs.
    let err = write_plan(dir.path(), &plan(), &jobs[..3], &sbatch).unwrap_err();
    assert!(matches!(err, SweepError::OtherPlan { .. }));
    assert!(err.to_string().contains("there and not now: x=3"), "{err}");
}

#[test]
fn an_edited_job_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    planned(dir.path(), 2);
    let path = dir.path().join("jobs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"x\":1", "\"x\":7")).unwrap();
    let err = read_jobs(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not the hash of its contents"), "{err}");
    std::fs::write(&path, "not json\n").unwrap();
    let err = read_jobs(dir.path()).unwrap_err().to_string();
    assert!(err.contains("line 1 is not a job"), "{err}");
}

#[test]
fn a_job_runs_once_and_its_failure_is_recorded_then_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = planned(dir.path(), 3);
    let err = run_job(
        dir.path(),
        &jobs[1],
        |_| {},
        |_| Err::<serde_json::Value, _>("disk full\nat step 3"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, SweepError::JobFailed { index: 1, message, .. } if message.contains("disk full"))
    );
    let status = sweep_status(dir.path(), 1).unwrap();
    assert_eq!(status.jobs[1].state, JobState::Failed);
    assert_eq!(status.jobs[1].error_tail.as_deref(), Some("at step 3"));
    assert_eq!(
        status.summary(),
        "0 done, 0 running, 1 failed, 2 pending (of 3)"
    );
    // A panic is a failure too, with its message.
    let err = run_job(
        dir.path(),
        &jobs[2],
        |_| {},
        |_| -> Result<serde_json::Value, String> { panic!("index out of bounds") },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("panicked: index out of bounds"),
        "{err}"
    );
    // The retry succeeds: done, the error gone; a second call does not run it again.
    let first = run_job(dir.path(), &jobs[1], |_| {}, double).unwrap();
    assert_eq!(first, JobRun::Finished(json!({ "double": 2 })));
    let second = run_job(
        dir.path(),
        &jobs[1],
        |_| {},
        |_| -> Result<serde_json::Value, String> { panic!("a finished job is not run again") },
    )
    .unwrap();
    assert_eq!(second, JobRun::AlreadyDone(json!({ "double": 2 })));
    let status = sweep_status(dir.path(), 5).unwrap();
    assert_eq!(status.jobs[1].state, JobState::Done);
    assert_eq!(status.jobs[1].error_tail, None);
    assert!(!status.complete());
}

#[test]
fn a_job_another_holder_runs_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = planned(dir.path(), 1);
    let files = JobFiles::of(dir.path(), &jobs[0]);
    let held = files.try_lock().unwrap().expect("the lock is free");
    assert!(
        files.try_lock().unwrap().is_none(),
        "a second holder is refused"
    );
    assert_eq!(files.state().unwrap(), JobState::Running);
    let owner = files.owner().unwrap();
    assert_eq!(owner.pid, std::process::id());
    let status = sweep_status(dir.path(), 1).unwrap();
    assert_eq!(status.jobs[0].state, JobState::Running);
    assert_eq!(status.jobs[0].owner.as_ref(), Some(&owner));

    let (told, heard) = mpsc::channel();
    let sweep_dir = dir.path().to_path_buf();
    let job = jobs[0].clone();
    let waiter = std::thread::spawn(move || {
        run_job(
            &sweep_dir,
            &job,
            |message| told.send(message.to_string()).unwrap(),
            |_| -> Result<serde_json::Value, String> { panic!("the holder finished it") },
        )
    });
    let message = heard.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        message.contains("is being run by") && message.contains("waiting"),
        "{message}"
    );
    // The holder finishes the job and lets go: the waiter finds it done.
    files.mark_done(&json!({ "by": "holder" })).unwrap();
    drop(held);
    let outcome = waiter.join().unwrap().unwrap();
    assert_eq!(outcome, JobRun::AlreadyDone(json!({ "by": "holder" })));
}

#[test]
fn a_lock_dies_with_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = planned(dir.path(), 1);
    let files = JobFiles::of(dir.path(), &jobs[0]);
    drop(files.try_lock().unwrap().unwrap());
    // flock(1) stands in for a process that takes the lock and is killed (`-o`: the lock is
    // flock's own, not inherited by its command).
    let lock = files.dir().join("lock");
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let mut waited = 0;
    while !files.is_locked().unwrap() && waited < 100 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert_eq!(files.state().unwrap(), JobState::Running);
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The operating system releases the lock with its holder.
    let mut waited = 0;
    while files.is_locked().unwrap() && waited < 100 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert_eq!(files.state().unwrap(), JobState::Pending);
}

#[test]
fn the_local_pool_runs_what_is_not_done_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = planned(dir.path(), 5);
    run_job(dir.path(), &jobs[0], |_| {}, double).unwrap();
    let mut events = Vec::new();
    // Each job's process writes its result the way `sweep run --index` does; job 3 fails.
    let summary = run_local(
        dir.path(),
        &jobs,
        2,
        |job| {
            let done = JobFiles::of(dir.path(), job).dir().join("done.json");
            let mut cmd = Command::new("sh");
            let script = if job.index == 3 {
                "echo boom >&2; exit 3".to_string()
            } else {
                format!(
                    "mkdir -p '{}' && echo '{{\"ok\": true}}' > '{}' && echo ran",
                    done.parent().unwrap().display(),
                    done.display()
                )
            };
            cmd.args(["-c", &script]);
            cmd
        },
        |e| events.push(e),
    )
    .unwrap();
    assert_eq!(summary.already_done, 1);
    assert_eq!(summary.finished, 3);
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.failed[0].0, 3);
    let log = std::fs::read_to_string(&summary.failed[0].2).unwrap();
    assert_eq!(log, "boom\n");
    assert_eq!(
        events.len(),
        8,
        "a start and an end per job run: {events:?}"
    );
    let status = sweep_status(dir.path(), 1).unwrap();
    assert_eq!(status.count(JobState::Done), 4);
    // The process ended without recording an error (as when it is killed): the pool records it.
    assert_eq!(status.jobs[3].state, JobState::Failed);
    let tail = status.jobs[3].error_tail.clone().unwrap();
    assert!(
        tail.contains("exit status: 3") && tail.contains("local-3.out"),
        "{tail}"
    );
    assert!(run_local(dir.path(), &jobs, 0, |_| Command::new("true"), |_| {}).is_err());
}

#[test]
fn sbatch_settings_are_checked() {
    let ok = SbatchParams::default();
    for (bad, what) in [
        (
            SbatchParams {
                job_name: "a b".into(),
                ..ok.clone()
            },
            "--job-name",
        ),
        (
            SbatchParams {
                partition: Some("gpu\n#SBATCH --x".into()),
                ..ok.clone()
            },
            "--partition",
        ),
        (
            SbatchParams {
                time: "1:2:3:4".into(),
                ..ok.clone()
            },
            "--time",
        ),
        (
            SbatchParams {
                mem: "1.5G".into(),
                ..ok.clone()
            },
            "--mem",
        ),
        (
            SbatchParams {
                cpus_per_task: 0,
                ..ok.clone()
            },
            "--cpus-per-task",
        ),
        (
            SbatchParams {
                max_parallel: Some(0),
                ..ok.clone()
            },
            "--max-parallel",
        ),
    ] {
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains(what), "{err}");
    }
}

proptest! {
    /// The id is a function of the job's contents: equal contents, equal ids, wherever the job
    /// stands; any change to the configuration changes it.
    #[test]
    fn ids_follow_the_contents(a in 0u64..1000, b in 0u64..1000, index in 0usize..100, threads in 1usize..64) {
        let config = json!({ "seed": a, "lambda": b });
        let id = job_id("reproduce-run", "main", "x", threads, &config);
        prop_assert_eq!(&Job::new(index, "reproduce-run", "main", "x", threads, config.clone()).id, &id);
        prop_assert_eq!(id.len(), 16);
        let other = json!({ "seed": a, "lambda": b + 1 });
        prop_assert_ne!(&job_id("reproduce-run", "main", "x", threads, &other), &id);
        prop_assert_ne!(&job_id("reproduce-run", "main", "x", threads + 1, &config), &id);
    }

    /// Every form SLURM accepts for --time passes the check.
    #[test]
    fn slurm_time_forms_pass(d in 0u32..30, h in 0u32..24, m in 0u32..60, sec in 0u32..60, form in 0usize..6) {
        let time = match form {
            0 => format!("{m}"),
            1 => format!("{m}:{sec:02}"),
            2 => format!("{h:02}:{m:02}:{sec:02}"),
            3 => format!("{d}-{h}"),
            4 => format!("{d}-{h}:{m:02}"),
            _ => format!("{d}-{h:02}:{m:02}:{sec:02}"),
        };
        let params = SbatchParams { time: time.clone(), ..SbatchParams::default() };
        prop_assert!(params.check().is_ok(), "{}", time);
    }
}
