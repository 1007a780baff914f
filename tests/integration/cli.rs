//! The binary's question commands, run as a user would.

use crate::bin;
use std::io::Write;
use std::process::{Command, Stdio};

fn run_with_stdin(args: &[&str], input: &str) -> (String, String, Option<i32>) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn ask_prints_answer_with_source() {
    let out = Command::new(bin())
        .args(["ask", "每年要多少学时"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("90") && text.contains("依据：赣教师办函〔2024〕22号"),
        "{text}"
    );
}

#[test]
fn ask_json_has_the_documented_fields() {
    let out = Command::new(bin())
        .args(["ask", "--json", "截止日期"])
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for k in [
        "question",
        "matched",
        "score",
        "answer",
        "candidates",
        "source",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["matched"], "deadline");
    assert!(
        v["answer"]
            .as_str()
            .unwrap_or("")
            .contains("2024年12月31日")
    );
}

#[test]
fn ask_json_batch_answers_every_line_in_order() {
    let input = "公需课多少学时\n今天中午吃什么\n\n登录网址\n";
    let (out, _, code) = run_with_stdin(&["ask", "--json"], input);
    assert_eq!(code, Some(0));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["question"], "公需课多少学时");
    assert!(lines[1]["matched"].is_null());
    assert!(
        lines[1]["answer"]
            .as_str()
            .unwrap_or("")
            .contains("0791-12333")
    );
    assert!(lines[2]["matched"].is_null());
    assert_eq!(lines[3]["matched"], "login");
}

#[test]
fn chat_works_with_piped_stdin_and_numbered_buttons() {
    // Ask, then press button 1 (the first related question).
    let (out, _, code) = run_with_stdin(&["chat"], "每年要多少学时\n1\n/quit\n");
    assert_eq!(code, Some(0));
    assert!(out.contains("不少于90学时"), "{out}");
    assert!(out.contains("[1] 公需课要学多少学时"), "{out}");
    assert!(
        out.contains("公需课（公需科目）培训学时总计不得少于30学时"),
        "{out}"
    );
}

#[test]
fn kb_export_lists_every_entry() {
    let out = Command::new(bin())
        .args(["kb", "export", "--json"])
        .output()
        .expect("run");
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("a JSON list");
    assert!(v.len() >= 20);
    for e in &v {
        for k in ["id", "title", "questions", "answer", "source"] {
            assert!(e.get(k).is_some(), "missing {k}");
        }
    }
    assert!(
        v.iter()
            .any(|e| e["answer"].as_str().unwrap_or("").contains("4001911818"))
    );
}

#[test]
fn help_describes_the_commands() {
    let out = Command::new(bin()).arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["ask", "chat", "kb"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn chat_tracks_hours_in_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    // The terminal follows the bot's clock (here pinned with --now).
    let now = ["--now", "2024-12-20T10:00:00+08:00"];
    let (out, _, code) = run_with_stdin(
        &["chat", "--data-dir", data, now[0], now[1]],
        "/log 公需 10\n/log 专业课 2.5\n/log 体育 3\n/hours\n/undo\n/remind\n/quit\n",
    );
    assert!(out.contains("还剩11天"), "{out}");
    assert_eq!(code, Some(0));
    assert!(out.contains("已记录：公需课 10学时"), "{out}");
    assert!(out.contains("不认识课程类别“体育”"), "{out}");
    assert!(out.contains("公需课：10 / 30 / 20"), "{out}");
    assert!(out.contains("已撤销：专业课 2.5学时"), "{out}");
    assert!(out.contains("提醒未开启"), "{out}");
    // Kept across runs.
    let (out, _, _) = run_with_stdin(
        &["chat", "--data-dir", data, now[0], now[1]],
        "/hours\n每年要多少学时\n4\n",
    );
    assert!(
        out.contains("公需课：10 / 30 / 20") && out.contains("专业课：0 / 60 / 60"),
        "{out}"
    );
    // Button 4 under that answer is 👍; the count lands in the store.
    assert!(
        out.contains("[4] 👍 有帮助") && out.contains("谢谢反馈！"),
        "{out}"
    );
    let stats = std::process::Command::new(bin())
        .args(["stats", "--data-dir", data, now[0], now[1]])
        .output()
        .expect("stats");
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.contains("1 / 0    hours_total"), "{stats}");
    assert!(
        stats.starts_with("当前年度：2024年度，指南已收录。提醒依据2024年度指南"),
        "{stats}"
    );
    // The terminal's question was counted too.
    assert!(stats.contains("1  hours_total"), "{stats}");
}

#[test]
fn logged_tenths_add_up_without_float_noise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let (out, _, code) = run_with_stdin(
        &["chat", "--data-dir", data],
        "/log 公需 0.1\n/log 公需 0.2\n/hours\n/quit\n",
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("目前公需课0.3、专业课0，合计0.3学时"), "{out}");
    assert!(out.contains("公需课：0.3 / 30 / 29.7"), "{out}");
    assert!(!out.contains("0.30000000000000004"), "{out}");
}

#[test]
fn declines_point_school_matters_to_the_configured_contact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("jxjy.toml");
    // Without a config: a generic pointer to the school's 人事处.
    let out = Command::new(bin())
        .args(["ask", "学校食堂几点开门"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("本校人事处") && text.contains("12333"),
        "{text}"
    );
    std::fs::write(
        &config,
        "[school]\nhr_contact = \"人事处师资科 0791-88888888\"\n",
    )
    .expect("write");
    for q in ["学校食堂几点开门", "我们学校人事处的电话是多少"] {
        let out = Command::new(bin())
            .args(["ask", "--config"])
            .arg(&config)
            .arg(q)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert!(text.contains("人事处师资科 0791-88888888"), "{q}: {text}");
    }
    // A misspelt key is named, not ignored.
    std::fs::write(&config, "[school]\nhr_contcat = \"x\"\n").expect("write");
    let out = Command::new(bin())
        .args(["ask", "--config"])
        .arg(&config)
        .arg("学时")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hr_contcat"));
}

fn run_with_bytes(args: &[&str], input: &[u8]) -> (String, Option<i32>) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// A line that is not UTF-8 is read with U+FFFD in place of the bad bytes:
/// one JSON line for each input line, the lines after it still answered.
#[test]
fn invalid_utf8_lines_are_read_lossily_in_batch_and_chat() {
    let mut input = "公需课多少学时\n".as_bytes().to_vec();
    input.extend_from_slice(b"\xff\xfe bad \xc3\x28 bytes\r\n");
    input.extend_from_slice("登录网址\n".as_bytes());
    let (out, code) = run_with_bytes(&["ask", "--json"], &input);
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[1]["question"], "\u{fffd}\u{fffd} bad \u{fffd}( bytes");
    assert_eq!(lines[2]["matched"], "login");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut input = b"\xff\xff\n".to_vec();
    input.extend_from_slice("每年要多少学时\n/quit\n".as_bytes());
    let (out, code) = run_with_bytes(
        &["chat", "--data-dir", dir.path().to_str().expect("utf-8")],
        &input,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("不少于90学时"), "{out}");
}
