//! `jxjy-bot stats` and `/stats`: what teachers ask, what the bot could not
//! answer (grouped by similarity), 👍/👎 per entry, and what could not be
//! delivered (answers, reminders, destinations given up, with reasons).

use crate::error::StoreError;
use crate::store::Store;
use crate::text::Analyzer;

/// Two unanswered questions this similar (normalised Levenshtein of their
/// normalised text) fall in one group.
const SAME_GROUP: f64 = 0.6;

/// Group texts greedily around the first text of each group; largest first.
pub fn group_similar(texts: &[String], analyzer: &Analyzer) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for t in texts {
        let norm = analyzer.normalize(t);
        match groups
            .iter_mut()
            .find(|(n, _, _)| strsim::normalized_levenshtein(n, &norm) >= SAME_GROUP)
        {
            Some(g) => g.2.push(t.clone()),
            None => groups.push((norm, t.clone(), vec![t.clone()])),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.2.len()));
    groups
        .into_iter()
        .map(|(_, head, all)| (head, all))
        .collect()
}

pub fn report(store: &Store, analyzer: &Analyzer) -> Result<String, StoreError> {
    let mut s = String::from("最常问的条目：\n");
    let asked = store.asked()?;
    if asked.is_empty() {
        s.push_str("  （暂无）\n");
    }
    for (entry, n) in asked.iter().take(10) {
        s.push_str(&format!("  {n:>5}  {entry}\n"));
    }
    // 👎 questions were answered: `kb suggest` lists them, not this.
    let texts: Vec<String> = store
        .unanswered()?
        .into_iter()
        .filter(|u| u.disliked.is_none())
        .map(|u| u.text)
        .collect();
    s.push_str(&format!(
        "未能回答的问题（{}条，按相似度分组）：\n",
        texts.len()
    ));
    for (head, all) in group_similar(&texts, analyzer).iter().take(15) {
        s.push_str(&format!("  {:>5}  {}\n", all.len(), head));
    }
    s.push_str("反馈（👍 / 👎）：\n");
    let fb = store.feedback()?;
    if fb.is_empty() {
        s.push_str("  （暂无）\n");
    }
    for (entry, up, down) in fb {
        s.push_str(&format!("  {up:>4} / {down:<4} {entry}\n"));
    }
    let (lost, reason) = store.answer_failures()?;
    s.push_str(&format!("未能送达的回答：{lost}"));
    if let Some(r) = reason.filter(|_| lost > 0) {
        s.push_str(&format!("（最近一次：{r}）"));
    }
    s.push('\n');
    let failed = store.failed_dests()?;
    let reminders = store.failed_deliveries()?;
    if !failed.is_empty() || !reminders.is_empty() {
        s.push_str("已停止发送的目标：\n");
        for (id, st) in &failed {
            s.push_str(&format!("  {id}：{}（{}次）\n", st.reason, st.failures));
        }
        s.push_str(&format!("放弃的提醒：{}条\n", reminders.len()));
        for (key, reason) in reminders.iter().take(10) {
            s.push_str(&format!("  {key}：{reason}\n"));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_questions_share_a_group_largest_first() {
        let a = Analyzer::new(&crate::knowledge::Lexicon::default());
        let texts: Vec<String> = [
            "食堂几点开饭",
            "食堂几点开饭？",
            "食堂几点开门",
            "工资什么时候发",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let g = group_similar(&texts, &a);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].0, "食堂几点开饭");
        assert_eq!(g[0].1.len(), 3);
        assert_eq!(g[1].1, vec!["工资什么时候发".to_string()]);
    }
}
