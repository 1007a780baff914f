//! `kb new-year`: the next guide year in minutes. The newest year's
//! directory is copied; every fact that changes with the year (named in
//! `[meta] yearly`) is listed under `[unfilled]` so `kb check` fails until a
//! person has set it. Given the new guide's text, the facts found in it are
//! filled in and printed old → new for that person to confirm.

use crate::error::KbError;
use regex::Regex;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Value};

/// Facts that change with each year's guide when facts.toml names none.
const DEFAULT_YEARLY: [&str; 10] = [
    "guide",
    "school_notice",
    "basis.annual_notice",
    "hours",
    "public",
    "professional",
    "login",
    "deadline",
    "hotline",
    "platforms",
];

#[derive(Debug, thiserror::Error)]
pub enum NewYearError {
    #[error(transparent)]
    Kb(#[from] KbError),
    #[error("{0} already exists; edit it, or remove it to start again")]
    Exists(PathBuf),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Toml { path: PathBuf, message: String },
}

/// One fact of the new year: its old value and, if the new guide's text
/// gave it, the new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: Option<String>,
}

/// What `kb new-year` did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub dir: PathBuf,
    pub from_year: u32,
    pub changes: Vec<Change>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> NewYearError {
    NewYearError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Make `<root>/<year>/` from the newest year; with `source`, fill in what
/// the new guide's text gives.
pub fn new_year(root: &Path, year: u32, source: Option<&str>) -> Result<Outcome, NewYearError> {
    let (from_year, from_dir) =
        crate::knowledge::year_dirs(root)?
            .pop()
            .ok_or_else(|| KbError::NoYear {
                dir: root.to_owned(),
            })?;
    let dir = root.join(year.to_string());
    if dir.exists() {
        return Err(NewYearError::Exists(dir));
    }
    let facts_path = from_dir.join("facts.toml");
    let text = std::fs::read_to_string(&facts_path).map_err(|e| io(&facts_path, e))?;
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| NewYearError::Toml {
                path: facts_path.clone(),
                message: e.to_string(),
            })?;
    let yearly: Vec<String> = doc
        .get("meta")
        .and_then(|m| m.get("yearly"))
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| DEFAULT_YEARLY.iter().map(|s| s.to_string()).collect());
    let found = source.map(extract).unwrap_or_default();
    let mut changes = Vec::new();
    let mut unfilled = toml_edit::Table::new();
    for (key, old) in leaves(doc.as_table()) {
        if !yearly
            .iter()
            .any(|y| key == *y || key.starts_with(&format!("{y}.")))
        {
            continue;
        }
        // The year itself is known: it is the one asked for.
        let new = if key == "guide.year" {
            Some(Value::from(i64::from(year)))
        } else {
            found
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        };
        match &new {
            Some(v) => set(&mut doc, &key, v),
            None => {
                unfilled.insert(
                    &key,
                    toml_edit::value(format!("{from_year}年：{}", show(&old))),
                );
            }
        }
        changes.push(Change {
            key,
            old: show(&old),
            new: new.as_ref().map(show),
        });
    }
    if !unfilled.is_empty() {
        unfilled.decor_mut().set_prefix(format!(
            "\n# Made by `jxjy-bot kb new-year {year}`: each fact below is still the {from_year} value.\n# Set it from the {year} guide, then delete its line here; `kb check` fails until\n# this table is gone.\n"
        ));
        doc.insert("unfilled", Item::Table(unfilled));
    }
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| io(&p, e))
    };
    write("facts.toml", &doc.to_string())?;
    let faq = from_dir.join("faq.toml");
    let faq_text = std::fs::read_to_string(&faq).map_err(|e| io(&faq, e))?;
    write("faq.toml", &faq_text)?;
    if let Some(s) = source {
        write("source.txt", s)?;
    }
    Ok(Outcome {
        dir,
        from_year,
        changes,
    })
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.value().clone(),
        other => other.to_string().trim().to_string(),
    }
}

/// Every leaf value of a table with its dotted key (arrays by index).
fn leaves(t: &toml_edit::Table) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    fn walk(prefix: &str, item: &Item, out: &mut Vec<(String, Value)>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match item {
            Item::Table(t) => {
                for (k, v) in t.iter() {
                    walk(&key(k), v, out);
                }
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    for (k, v) in t.iter() {
                        walk(&format!("{}.{k}", key(&i.to_string())), v, out);
                    }
                }
            }
            Item::Value(Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&key(&i.to_string()), &Item::Value(v.clone()), out);
                }
            }
            Item::Value(Value::InlineTable(t)) => {
                for (k, v) in t.iter() {
                    walk(&key(k), &Item::Value(v.clone()), out);
                }
            }
            Item::Value(v) => out.push((prefix.to_string(), v.clone())),
            Item::None => {}
        }
    }
    for (k, v) in t.iter() {
        if k != "meta" && k != "unfilled" {
            walk(k, v, &mut out);
        }
    }
    out
}

/// Replace a value, keeping its decoration (the comment after it).
fn replace(slot: &mut Value, v: &Value) {
    let decor = slot.decor().clone();
    *slot = v.clone();
    *slot.decor_mut() = decor;
}

/// Set the value at a dotted key ("hours.total", "public.topics.1",
/// "platforms.0.phone"); a key that does not exist is left alone.
fn set(doc: &mut DocumentMut, key: &str, v: &Value) {
    let parts: Vec<&str> = key.split('.').collect();
    if let Some(Item::ArrayOfTables(_)) = doc.get(parts[0]) {
        set_in_array_of_tables(doc, &parts, v);
        return;
    }
    let mut item: &mut Item = doc.as_item_mut();
    for (n, p) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        let next = match item {
            Item::Table(t) => t.get_mut(p),
            Item::Value(Value::Array(a)) if last => {
                if let Some(slot) = p.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    replace(slot, v);
                }
                return;
            }
            _ => None,
        };
        match next {
            Some(n) => item = n,
            None => return,
        }
    }
    if let Item::Value(old) = item {
        replace(old, v);
    }
}

/// `platforms.1.phone`: a field of one table of an array of tables.
fn set_in_array_of_tables(doc: &mut DocumentMut, parts: &[&str], v: &Value) {
    let [name, index, field] = parts else {
        return;
    };
    let Some(Item::ArrayOfTables(a)) = doc.get_mut(name) else {
        return;
    };
    let Some(t) = index.parse::<usize>().ok().and_then(|i| a.get_mut(i)) else {
        return;
    };
    if let Some(Item::Value(old)) = t.get_mut(field) {
        replace(old, v);
    }
}

/// What a guide's text says of the facts that change each year, by dotted
/// key. Only what the text states plainly is returned; the rest stays for a
/// person to fill in.
pub fn extract(source: &str) -> Vec<(String, Value)> {
    // Without spaces (the guide breaks lines and pads numbers), otherwise
    // as written: values keep the guide's full-width punctuation.
    let flat: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Value| {
        if !out.iter().any(|(key, _)| key == k) {
            out.push((k.to_string(), v));
        }
    };
    let re = |p: &str| Regex::new(p).ok();
    let s = |x: &str| Value::from(x.to_string());
    // The first match of a pattern in the guide's text.
    let first = |p: &str| re(p).and_then(|r| r.find(&flat).map(|m| m.as_str().to_string()));
    if let Some(r) = re(r"累计应不少于(\d+)学时，其中公需课不少于(\d+)学时，专业课不少于(\d+)学时")
        && let Some(c) = r.captures(&flat)
    {
        for (k, i) in [
            ("hours.total", 1),
            ("hours.public", 2),
            ("hours.professional", 3),
        ] {
            if let Ok(n) = c[i].parse::<i64>() {
                put(k, Value::from(n));
            }
        }
    }
    if let Some(r) = re(r"(\d{4})年度的继续教育学习应在(\d{4})年(\d{1,2})月(\d{1,2})日前完成")
        && let Some(c) = r.captures(&flat)
        && let Ok(dt) =
            format!("{}-{:0>2}-{:0>2}", &c[2], &c[3], &c[4]).parse::<toml_edit::Datetime>()
    {
        put("deadline.date", Value::from(dt));
    }
    if let Some(m) = first(r"因特殊原因逾期未完成\d{4}年度继续教育的[^。，]*?补学")
    {
        put("deadline.makeup", s(&m));
    }
    if let Some(m) = first(r"https?://[A-Za-z0-9./_\-?=&%]+") {
        put("login.url", s(&m));
    }
    if let Some(r) = re(r"咨询电话：([0-9]{3,4}-[0-9]{5,8})(转[0-9]+（[0-9]+号键，[^）]+）)")
        && let Some(c) = r.captures(&flat)
    {
        put("hotline.number", s(&c[1]));
        put("hotline.ext", s(&c[2]));
    }
    if let Some(m) = first(r"赣教师办函〔\d{4}〕\d+号") {
        put("guide.doc_no", s(&m));
    }
    if let Some(r) =
        re(r"\d{4}年度江西省高等学校、中等职业学校专业技术人员继续教育专业科目学习指南")
        && let Some(m) = r.find_iter(&flat).last()
    {
        put("guide.title", s(m.as_str()));
    }
    if let Some(m) =
        first(r"《关于开展\d{4}年度专业技术人员继续教育学习的通知》（赣人社字〔\d{4}〕\d+号）")
    {
        put("basis.annual_notice", s(&m));
    }
    // The school's notice: its own number and date come first in the text.
    if let Some(m) = first(r"赣[^赣〔]{1,6}人字〔\d{4}〕\d+号") {
        put("school_notice.doc_no", s(&m));
    }
    if let Some(r) = re(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
        && let Some(c) = r.captures(&flat)
        && let Ok(dt) =
            format!("{}-{:0>2}-{:0>2}", &c[1], &c[2], &c[3]).parse::<toml_edit::Datetime>()
    {
        put("school_notice.date", Value::from(dt));
    }
    if let Some(r) = re(r"公需科目学习指南确定为((?:“[^”]+”)+)")
        && let Some(c) = r.captures(&flat)
        && let Some(inner) = re(r"“([^”]+)”")
    {
        for (i, t) in inner.captures_iter(&c[1]).enumerate() {
            put(&format!("public.topics.{i}"), s(&t[1]));
        }
    }
    if let Some(m) = first(r"自主选择公需科目网络课程学习平台开展学习，[^。]*?无需个人申报")
    {
        put("public.how", s(&m));
    }
    if let Some(r) = re(r"^(\S+?人事处)") // the school's notice opens with its issuer
        && let Some(c) = r.captures(source.trim_start())
    {
        put("school_notice.issuer", s(&c[1]));
    }
    if let Some(m) = first(r"关于[^。，]*?学习指南的通知") {
        put("school_notice.title", s(&m));
    }
    // Whom the two notices are sent to: a line of its own ending in "：",
    // the school's first, the province's to its 教育局.
    if let Some(r) = re(r"(?m)^\s*(各[^：\n]{1,40})：\s*$") {
        let to: Vec<&str> = r
            .captures_iter(source)
            .filter_map(|c| c.get(1).map(|m| m.as_str().trim()))
            .collect();
        if let Some(first) = to.iter().find(|t| !t.contains("教育局")) {
            put("school_notice.to", s(first));
        }
        if let Some(prov) = to.iter().find(|t| t.contains("教育局")) {
            put("guide.to", s(prov));
        }
    }
    if let Some(m) = first(r"请各单位认真组织专业技术人员完成[^。]*?学习") {
        put("school_notice.asks", s(&m));
    }
    if let Some(m) = first(r"请各单位认真组织做好[^。]*?学习") {
        put("guide.asks", s(&m));
    }
    if let Some(m) = first(r"结合[^，。]{2,8}实际") {
        put("guide.made_with", s(&m));
    }
    if let Some(m) = first(r"江西省教育厅办公室") {
        put("guide.issuer", s(&m));
    }
    if let Some(r) = re(r"专业科目为继续教育的主要内容，包括([^。]+?)。")
        && let Some(c) = r.captures(&flat)
    {
        put("professional.content", s(&c[1]));
    }
    if let Some(r) = re(r"专业科目可采取([^。]+?)等多种形式")
        && let Some(c) = r.captures(&flat)
    {
        for (i, f) in c[1].split('、').enumerate() {
            put(&format!("professional.forms.{i}"), s(f));
        }
    }
    if let Some(r) = re(r"的“([^”]+)”选择高等学校教师")
        && let Some(c) = r.captures(&flat)
    {
        put("professional.square", s(&c[1]));
    }
    if let Some(m) = first(r"选择高等学校教师[^。]*?无需个人申报") {
        put("professional.online", s(&m));
    }
    // The attached list's title: "附件：江西省…网络学习平台名单（排名不分先后）".
    if let Some(r) = re(r"附件：([^：（）。]*?网络学习平台名单)")
        && let Some(c) = r.captures(&flat)
    {
        put("professional.platform_list", s(&c[1]));
    }
    if let Some(r) = re(r"登录“([^”]+)”(使用[^。，]*?登录)")
        && let Some(c) = r.captures(&flat)
    {
        put("login.platform", s(&c[1]));
        put("login.method", s(&c[2]));
    }
    // The platform list: "operator-name" then "客服电话：number", by line.
    if let Some(r) = re(r"(?m)^\s*([^\s\-—]+)[-—]([^\s]+)\s*\n\s*客服电话：\s*([0-9\-]+)")
    {
        for (i, c) in r.captures_iter(source).enumerate() {
            put(&format!("platforms.{i}.operator"), s(c[1].trim()));
            put(&format!("platforms.{i}.name"), s(c[2].trim()));
            put(&format!("platforms.{i}.phone"), s(c[3].trim()));
        }
    }
    out
}

/// The report printed by `kb new-year`.
pub fn report(o: &Outcome, year: u32) -> String {
    let mut s = format!("made {} from the {} guide.\n", o.dir.display(), o.from_year);
    let found: Vec<&Change> = o.changes.iter().filter(|c| c.new.is_some()).collect();
    let missing: Vec<&Change> = o.changes.iter().filter(|c| c.new.is_none()).collect();
    if !found.is_empty() {
        s.push_str(&format!(
            "\nfound in the {year} guide (check each, old → new):\n"
        ));
        for c in found {
            let new = c.new.as_deref().unwrap_or_default();
            let mark = if new == c.old { "  (same)" } else { "" };
            s.push_str(&format!("  {}: {} → {}{mark}\n", c.key, c.old, new));
        }
    }
    if !missing.is_empty() {
        s.push_str(&format!(
            "\nnot found: still the {} value, listed under [unfilled] in {}:\n",
            o.from_year,
            o.dir.join("facts.toml").display()
        ));
        for c in missing {
            s.push_str(&format!("  {}: {}\n", c.key, c.old));
        }
    }
    s.push_str("\nthen run: jxjy-bot kb check\n");
    s
}
