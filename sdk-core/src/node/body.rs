//! Response bodies: bytes from memory, or a file streamed from the disk
//! cache a chunk at a time — so serving a large item from disk holds one
//! chunk per connection in memory, not the item — each paced by the upload
//! rate cap when one is set.

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use super::token_bucket::TokenBucket;

/// Bytes a paced response sends per frame: small enough that many
/// responses share the rate fairly, big enough to keep syscalls few.
const PACED_FRAME: usize = 64 * 1024;

/// Bytes read from disk per chunk when streaming a file: a connection holds
/// at most one such chunk (256 KiB chunks cost a tenth of the throughput in
/// hand-offs to the blocking pool).
const FILE_CHUNK: usize = 1024 * 1024;

pub(crate) type BodyError = Box<dyn std::error::Error + Send + Sync>;

type FileRead = JoinHandle<(std::fs::File, std::io::Result<Bytes>)>;

enum Source {
    Memory(Bytes),
    File {
        /// Out while a read runs on the blocking pool.
        file: Option<std::fs::File>,
        offset: u64,
        remaining: u64,
        reading: Option<FileRead>,
    },
}

pub(crate) struct ReplyBody {
    source: Source,
    bucket: Option<Arc<TokenBucket>>,
    /// A frame waiting out the rate cap.
    delayed: Option<(Bytes, Pin<Box<Sleep>>)>,
}

impl ReplyBody {
    pub(crate) fn empty() -> Self {
        Self::memory(Bytes::new(), None)
    }

    pub(crate) fn memory(bytes: Bytes, bucket: Option<Arc<TokenBucket>>) -> Self {
        ReplyBody {
            source: Source::Memory(bytes),
            bucket,
            delayed: None,
        }
    }

    /// `len` bytes of `file` from `offset`.
    pub(crate) fn file(file: std::fs::File, offset: u64, len: u64, bucket: Option<Arc<TokenBucket>>) -> Self {
        ReplyBody {
            source: Source::File {
                file: Some(file),
                offset,
                remaining: len,
                reading: None,
            },
            bucket,
            delayed: None,
        }
    }

    fn remaining(&self) -> u64 {
        let pending = self.delayed.as_ref().map_or(0, |(frame, _)| frame.len() as u64);
        pending
            + match &self.source {
                Source::Memory(bytes) => bytes.len() as u64,
                Source::File { remaining, .. } => *remaining,
            }
    }

    /// The next chunk from the source, before pacing.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BodyError>>> {
        match &mut self.source {
            Source::Memory(bytes) if bytes.is_empty() => Poll::Ready(None),
            Source::Memory(bytes) => {
                let take = if self.bucket.is_some() {
                    bytes.len().min(PACED_FRAME)
                } else {
                    bytes.len()
                };
                Poll::Ready(Some(Ok(bytes.split_to(take))))
            }
            Source::File {
                file,
                offset,
                remaining,
                reading,
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                if reading.is_none() {
                    let Some(mut owned) = file.take() else {
                        return Poll::Ready(Some(Err("the cached file is gone".into())));
                    };
                    let at = *offset;
                    // Allocated here, not on the blocking thread: glibc keeps
                    // an arena per allocating thread, and chunks freed into
                    // the blocking pool's many arenas would stay resident.
                    let mut chunk = BytesMut::zeroed((*remaining).min(FILE_CHUNK as u64) as usize);
                    *reading = Some(tokio::task::spawn_blocking(move || {
                        let read = read_chunk(&mut owned, at, &mut chunk).map(|()| chunk.freeze());
                        (owned, read)
                    }));
                }
                let handle = reading.as_mut().expect("set above");
                let (owned, read) = match Pin::new(handle).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(done)) => done,
                    Poll::Ready(Err(join)) => return Poll::Ready(Some(Err(join.into()))),
                };
                *reading = None;
                *file = Some(owned);
                match read {
                    Ok(chunk) => {
                        *offset += chunk.len() as u64;
                        *remaining -= chunk.len() as u64;
                        Poll::Ready(Some(Ok(chunk)))
                    }
                    Err(error) => Poll::Ready(Some(Err(error.into()))),
                }
            }
        }
    }
}

/// Fills `chunk` from `offset`; a short file is an error (the client must
/// not get a truncated item with a full length promised).
fn read_chunk(file: &mut std::fs::File, offset: u64, chunk: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(chunk)
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.delayed.is_none() {
            let chunk = match this.poll_chunk(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(chunk))) => chunk,
            };
            let wait = this
                .bucket
                .as_ref()
                .map_or(std::time::Duration::ZERO, |b| b.take(chunk.len()));
            if wait.is_zero() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            this.delayed = Some((chunk, Box::pin(tokio::time::sleep(wait))));
        }
        let (_, sleep) = this.delayed.as_mut().expect("set above");
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let (frame, _) = this.delayed.take().expect("set above");
                Poll::Ready(Some(Ok(Frame::data(frame))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::time::Duration;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_paced_body_keeps_the_rate() {
        let bucket = Arc::new(TokenBucket::new(PACED_FRAME as u64));
        let payload = Bytes::from(vec![7u8; PACED_FRAME * 4]);
        let started = Instant::now();
        let collected = ReplyBody::memory(payload.clone(), Some(bucket))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(collected, payload);
        // One frame of burst, three more at one frame per second.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(3) && elapsed < Duration::from_millis(3100),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_file_streams_in_chunks_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("item");
        let bytes: Vec<u8> = (0..FILE_CHUNK * 2 + 1000).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let body = ReplyBody::file(
            std::fs::File::open(&path).unwrap(),
            100,
            (FILE_CHUNK + 500) as u64,
            None,
        );
        assert_eq!(body.size_hint().exact(), Some((FILE_CHUNK + 500) as u64));
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], &bytes[100..100 + FILE_CHUNK + 500]);
    }

    #[tokio::test]
    async fn a_file_shorter_than_promised_is_an_error_not_a_short_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("item");
        std::fs::write(&path, [1u8; 1000]).unwrap();
        let body = ReplyBody::file(std::fs::File::open(&path).unwrap(), 0, 2000, None);
        assert!(body.collect().await.is_err());
    }
}
