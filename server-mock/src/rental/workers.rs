//! The billing service and the SMS gateway, as consumers of the queue an
//! ended rental writes to (two streams, one consumer group each).
//!
//! Every instance runs one consumer per stream. A message is handled at
//! least once — a consumer that dies leaves it pending, and another claims
//! it once idle (`XAUTOCLAIM`) — and its effect is recorded under the
//! message's id first, so a redelivered message bills once and texts once.
//! QA can make a consumer die at the next message (after reading it, or
//! after doing its work but before acknowledging it) and watch the streams,
//! their pending entries and what each worker did in `/admin/queues`.

use std::sync::Weak;
use std::time::Duration;

use edgepoints_protocol::members::notice_kinds;
use edgepoints_protocol::rental::Fee;
use edgepoints_protocol::NoticePost;
use serde::{Deserialize, Serialize};

use crate::points::now;
use crate::state::keys;
use crate::store::{get_json, put_json, scan_json, PendingEntry, StoreError, StreamEntry, StreamMessage};
use crate::ControlPlane;

/// The two workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Worker {
    Billing,
    Sms,
}

impl Worker {
    pub const ALL: [Worker; 2] = [Worker::Billing, Worker::Sms];

    pub fn stream(self) -> &'static str {
        match self {
            Worker::Billing => "billing",
            Worker::Sms => "sms",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Worker::Billing => "billing-service",
            Worker::Sms => "sms-gateway",
        }
    }

    pub fn parse(text: &str) -> Option<Worker> {
        Worker::ALL.into_iter().find(|w| w.stream() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingMessage {
    pub rental_id: String,
    pub member_id: String,
    pub vehicle_id: String,
    pub fee: Fee,
    pub ended_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SmsMessage {
    pub rental_id: String,
    pub member_id: String,
    /// The member the text goes to (the mock's gateway texts members).
    pub to: String,
    pub text: String,
    pub ended_at_ms: u64,
}

pub(crate) fn billing_message(message: &BillingMessage) -> StreamMessage {
    StreamMessage {
        stream: Worker::Billing.stream().to_owned(),
        body: serde_json::to_vec(message).expect("messages serialise"),
    }
}

pub(crate) fn sms_message(message: &SmsMessage) -> StreamMessage {
    StreamMessage {
        stream: Worker::Sms.stream().to_owned(),
        body: serde_json::to_vec(message).expect("messages serialise"),
    }
}

/// A bill the billing service made, under the message id it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bill {
    pub message_id: String,
    pub rental_id: String,
    pub member_id: String,
    pub vehicle_id: String,
    pub fee: Fee,
    pub billed_at_ms: u64,
    pub consumer: String,
    /// The member was told (set after the notice is posted).
    pub notified: bool,
}

/// A text the SMS gateway sent, under the message id it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentSms {
    pub message_id: String,
    pub rental_id: String,
    pub member_id: String,
    pub to: String,
    pub text: String,
    pub sent_at_ms: u64,
    pub consumer: String,
    pub notified: bool,
}

/// Where a consumer QA asked to die dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// Having read the next message, before doing anything.
    AfterRead,
    /// Having done the message's work, before acknowledging it.
    AfterWork,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkerSettings {
    /// How long a message stays pending with a silent consumer before
    /// another claims it.
    pub claim_idle_ms: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings { claim_idle_ms: 5_000 }
    }
}

pub async fn settings(control_plane: &ControlPlane) -> Result<WorkerSettings, StoreError> {
    Ok(get_json(control_plane.store(), keys::WORKER_SETTINGS)
        .await?
        .unwrap_or_default())
}

pub async fn set_settings(control_plane: &ControlPlane, settings: WorkerSettings) -> Result<(), StoreError> {
    put_json(control_plane.store(), keys::WORKER_SETTINGS, &settings).await
}

fn crash_key(worker: Worker) -> String {
    format!("{}{}", keys::WORKER_CRASH_PREFIX, worker.stream())
}

/// The next consumer of `worker` to handle a message dies at `at`.
pub async fn crash_next(control_plane: &ControlPlane, worker: Worker, at: CrashPoint) -> Result<(), StoreError> {
    put_json(control_plane.store(), &crash_key(worker), &at).await
}

/// Takes QA's crash order if it is for `at` (only one consumer takes it).
async fn take_crash(control_plane: &ControlPlane, worker: Worker, at: CrashPoint) -> Result<bool, StoreError> {
    let key = crash_key(worker);
    let Some(current) = control_plane.store().get(&key).await? else {
        return Ok(false);
    };
    if serde_json::from_slice::<CrashPoint>(&current).ok() != Some(at) {
        return Ok(false);
    }
    control_plane.store().compare_and_swap(&key, Some(&current), None).await
}

fn bill_key(message_id: &str) -> String {
    format!("{}{message_id}", keys::BILL_PREFIX)
}

fn sms_key(message_id: &str) -> String {
    format!("{}{message_id}", keys::SMS_PREFIX)
}

/// Puts `record` under `key` unless something is there; what is there after.
async fn record_once<T: Serialize + serde::de::DeserializeOwned>(
    control_plane: &ControlPlane,
    key: &str,
    record: T,
) -> Result<T, StoreError> {
    let encoded = serde_json::to_vec(&record).expect("records serialise");
    if control_plane
        .store()
        .compare_and_swap(key, None, Some(&encoded))
        .await?
    {
        return Ok(record);
    }
    Ok(get_json(control_plane.store(), key).await?.unwrap_or(record))
}

/// Does one message's work, once per message id however often it comes.
async fn handle(
    control_plane: &ControlPlane,
    worker: Worker,
    consumer: &str,
    entry: &StreamEntry,
) -> Result<(), StoreError> {
    let clock = now(control_plane).await?;
    match worker {
        Worker::Billing => {
            let Ok(message) = serde_json::from_slice::<BillingMessage>(&entry.body) else {
                tracing::error!(id = %entry.id, "billing message does not decode; dropped");
                return Ok(());
            };
            let bill = record_once(
                control_plane,
                &bill_key(&entry.id),
                Bill {
                    message_id: entry.id.clone(),
                    rental_id: message.rental_id.clone(),
                    member_id: message.member_id.clone(),
                    vehicle_id: message.vehicle_id.clone(),
                    fee: message.fee.clone(),
                    billed_at_ms: clock,
                    consumer: consumer.to_owned(),
                    notified: false,
                },
            )
            .await?;
            if !bill.notified {
                crate::notices::post_once(
                    control_plane,
                    &bill.member_id,
                    &format!("bill-{}", bill.rental_id),
                    message.ended_at_ms,
                    NoticePost {
                        kind: notice_kinds::RENTAL_BILLED.to_owned(),
                        text: format!(
                            "Your rental of {} is billed: {}.{:02} {}.",
                            bill.vehicle_id,
                            bill.fee.total_cents / 100,
                            bill.fee.total_cents % 100,
                            bill.fee.currency
                        ),
                    },
                )
                .await?;
                put_json(
                    control_plane.store(),
                    &bill_key(&entry.id),
                    &Bill { notified: true, ..bill },
                )
                .await?;
            }
        }
        Worker::Sms => {
            let Ok(message) = serde_json::from_slice::<SmsMessage>(&entry.body) else {
                tracing::error!(id = %entry.id, "SMS message does not decode; dropped");
                return Ok(());
            };
            let sent = record_once(
                control_plane,
                &sms_key(&entry.id),
                SentSms {
                    message_id: entry.id.clone(),
                    rental_id: message.rental_id.clone(),
                    member_id: message.member_id.clone(),
                    to: message.to.clone(),
                    text: message.text.clone(),
                    sent_at_ms: clock,
                    consumer: consumer.to_owned(),
                    notified: false,
                },
            )
            .await?;
            if !sent.notified {
                crate::notices::post_once(
                    control_plane,
                    &sent.member_id,
                    &format!("sms-{}", sent.rental_id),
                    message.ended_at_ms,
                    NoticePost {
                        kind: notice_kinds::SMS_SENT.to_owned(),
                        text: sent.text.clone(),
                    },
                )
                .await?;
                put_json(
                    control_plane.store(),
                    &sms_key(&entry.id),
                    &SentSms { notified: true, ..sent },
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// How one consumer's run ended.
enum RunEnd {
    /// QA made it die: a new consumer takes over.
    Crashed,
    /// The control plane is gone.
    Stopped,
}

async fn run_consumer(
    control_plane: &Weak<ControlPlane>,
    worker: Worker,
    consumer: &str,
) -> Result<RunEnd, StoreError> {
    let Some(plane) = control_plane.upgrade() else {
        return Ok(RunEnd::Stopped);
    };
    let mut reader = plane.store().stream_reader().await?;
    drop(plane);
    loop {
        let Some(plane) = control_plane.upgrade() else {
            return Ok(RunEnd::Stopped);
        };
        let idle = Duration::from_millis(settings(&plane).await?.claim_idle_ms);
        let mut entries = reader
            .claim_idle(worker.stream(), worker.group(), consumer, idle, 10)
            .await?;
        if entries.is_empty() {
            // Not holding the control plane while blocked: it may go away.
            drop(plane);
            entries = reader
                .read_new(
                    worker.stream(),
                    worker.group(),
                    consumer,
                    10,
                    Duration::from_millis(500),
                )
                .await?;
        } else {
            drop(plane);
        }
        let Some(plane) = control_plane.upgrade() else {
            return Ok(RunEnd::Stopped);
        };
        for entry in entries {
            if take_crash(&plane, worker, CrashPoint::AfterRead).await? {
                tracing::warn!(consumer, id = %entry.id, "consumer died after reading (QA)");
                return Ok(RunEnd::Crashed);
            }
            handle(&plane, worker, consumer, &entry).await?;
            if take_crash(&plane, worker, CrashPoint::AfterWork).await? {
                tracing::warn!(consumer, id = %entry.id, "consumer died before acknowledging (QA)");
                return Ok(RunEnd::Crashed);
            }
            plane
                .store()
                .stream_ack(worker.stream(), worker.group(), &entry.id)
                .await?;
            tracing::info!(consumer, stream = worker.stream(), id = %entry.id, "message handled");
        }
    }
}

/// Runs `worker`'s consumer for this instance until the control plane is
/// dropped; a consumer that dies is replaced by a new one (a new name, as
/// a restarted process has), which leaves the dead one's entries pending
/// until someone claims them.
pub(crate) async fn run(control_plane: Weak<ControlPlane>, worker: Worker, instance: String) {
    let mut generation = 0u32;
    loop {
        let consumer = format!("{instance}-{}-{generation}", worker.stream());
        match run_consumer(&control_plane, worker, &consumer).await {
            Ok(RunEnd::Stopped) => return,
            Ok(RunEnd::Crashed) => generation += 1,
            Err(error) => {
                tracing::warn!(%error, consumer, "queue consumer failed; restarting");
                generation += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// One stream as QA sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamState {
    pub stream: String,
    pub group: String,
    pub length: u64,
    /// Newest first: id and message.
    pub entries: Vec<(String, serde_json::Value)>,
    pub pending: Vec<PendingEntry>,
}

/// The queue and what the workers did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueView {
    pub streams: Vec<StreamState>,
    pub bills: Vec<Bill>,
    pub sms: Vec<SentSms>,
    pub settings: WorkerSettings,
}

pub async fn view(control_plane: &ControlPlane) -> Result<QueueView, StoreError> {
    let mut streams = Vec::new();
    for worker in Worker::ALL {
        let view = control_plane
            .store()
            .stream_view(worker.stream(), worker.group(), 100)
            .await?;
        streams.push(StreamState {
            stream: worker.stream().to_owned(),
            group: worker.group().to_owned(),
            length: view.length,
            entries: view
                .entries
                .into_iter()
                .map(|e| (e.id, serde_json::from_slice(&e.body).unwrap_or(serde_json::Value::Null)))
                .collect(),
            pending: view.pending,
        });
    }
    Ok(QueueView {
        streams,
        bills: scan_json(control_plane.store(), keys::BILL_PREFIX).await?,
        sms: scan_json(control_plane.store(), keys::SMS_PREFIX).await?,
        settings: settings(control_plane).await?,
    })
}
