//! The automatic review against its corpus: every evasion is caught with
//! the original span it hides in, and every clean text passes.

use edgepoints_mock_server::review::{default_rules, Reviewer};
use edgepoints_protocol::review::{ReviewRules, ReviewWord, CONTACT_CATEGORY};

fn lines(corpus: &str) -> impl Iterator<Item = &str> {
    corpus.lines().filter(|l| !l.is_empty() && !l.starts_with('#'))
}

#[test]
fn every_evasion_is_caught_with_its_original_span() {
    let reviewer = Reviewer::new(&default_rules()).unwrap();
    let mut missed = Vec::new();
    for line in lines(include_str!("review_corpus/evasions.tsv")) {
        let [text, word, span]: [&str; 3] = line.split('\t').collect::<Vec<_>>().try_into().expect("three columns");
        let findings = reviewer.review(text);
        let hit = findings
            .iter()
            .find(|f| f.word == word)
            .filter(|f| f.text == span && &text[f.start..f.end] == span);
        if hit.is_none() {
            missed.push(format!("{text:?}: wanted {word} at {span:?}, found {findings:?}"));
        }
    }
    assert!(missed.is_empty(), "missed:\n{}", missed.join("\n"));
}

#[test]
fn every_clean_text_passes() {
    let reviewer = Reviewer::new(&default_rules()).unwrap();
    let flagged: Vec<String> = lines(include_str!("review_corpus/clean.txt"))
        .filter_map(|text| {
            let findings = reviewer.review(text);
            (!findings.is_empty()).then(|| format!("{text:?}: {findings:?}"))
        })
        .collect();
    assert!(flagged.is_empty(), "false hits:\n{}", flagged.join("\n"));
}

#[test]
fn an_allowed_phrase_hides_only_what_it_contains() {
    let reviewer = Reviewer::new(&default_rules()).unwrap();
    assert!(reviewer.review("三黄片").is_empty());
    let findings = reviewer.review("三黄片和黄片");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].text.as_str(), findings[0].start),
        ("黄片", "三黄片和".len())
    );
}

#[test]
fn contacts_are_findings_of_their_own_category() {
    let reviewer = Reviewer::new(&default_rules()).unwrap();
    let text = "优惠详询 13800138000 或 https://deals.example.com/x";
    let findings = reviewer.review(text);
    let found: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| (f.category.as_str(), f.word.as_str(), f.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (CONTACT_CATEGORY, "phone", "13800138000"),
            (CONTACT_CATEGORY, "url", "https://deals.example.com/x")
        ]
    );
}

#[test]
fn one_text_can_hold_several_findings_in_order() {
    let reviewer = Reviewer::new(&default_rules()).unwrap();
    let findings = reviewer.review("赌.博 and F-U-C-K, 代开发票");
    let words: Vec<&str> = findings.iter().map(|f| f.word.as_str()).collect();
    assert_eq!(words, ["赌博", "fuck", "代开发票"]);
    let categories: Vec<&str> = findings.iter().map(|f| f.category.as_str()).collect();
    assert_eq!(categories, ["gambling", "profanity", "fraud"]);
}

#[test]
fn rules_without_letters_or_categories_are_refused() {
    let bad_word = ReviewRules {
        words: vec![ReviewWord {
            word: "..".into(),
            category: "fraud".into(),
        }],
        allowed: vec![],
    };
    assert!(Reviewer::new(&bad_word).is_err());
    let bad_category = ReviewRules {
        words: vec![ReviewWord {
            word: "x".into(),
            category: String::new(),
        }],
        allowed: vec![],
    };
    assert!(Reviewer::new(&bad_category).is_err());
}

#[tokio::test]
async fn each_tenant_edits_its_rules_over_the_admin_api() {
    use edgepoints_mock_server::testing::{AdminClient, AdminError};
    use edgepoints_mock_server::MockServer;

    let server = MockServer::start(Default::default()).await.unwrap();
    let admin = AdminClient::new(&server.url(), edgepoints_core::transport::http_client().unwrap());
    assert_eq!(admin.review_rules("shop-a").await.unwrap(), default_rules());
    let rules = ReviewRules {
        words: vec![ReviewWord {
            word: "秒杀".into(),
            category: "misleading".into(),
        }],
        allowed: vec![],
    };
    admin.set_review_rules("shop-a", &rules).await.unwrap();
    let found = admin.check_text("shop-a", "限时 秒.杀!").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].category.as_str(), found[0].text.as_str()),
        ("misleading", "秒.杀")
    );
    // Another tenant still has the defaults.
    assert!(admin.check_text("shop-b", "限时 秒.杀!").await.unwrap().is_empty());
    assert_eq!(admin.check_text("shop-b", "代开发票").await.unwrap().len(), 1);
    // Rules that cannot work are refused and change nothing.
    let broken = ReviewRules {
        words: vec![ReviewWord {
            word: "!!".into(),
            category: "x".into(),
        }],
        allowed: vec![],
    };
    match admin.set_review_rules("shop-a", &broken).await {
        Err(AdminError::Refused { status: 422, body, .. }) => assert!(body.contains("no letters or digits"), "{body}"),
        other => panic!("refused, got {other:?}"),
    }
    assert_eq!(admin.review_rules("shop-a").await.unwrap(), rules);
    server.shutdown().await;
}
