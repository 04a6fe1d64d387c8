//! Which function runs which kind of job.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::queue::{Job, Outcome};

type BoxedHandler = Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// The job kinds a worker pool runs and the handler for each. A pool claims only the
/// kinds it has handlers for, so processes of different versions can share one queue.
#[derive(Clone, Default)]
pub struct Handlers {
    by_kind: BTreeMap<String, BoxedHandler>,
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_kind.keys()).finish()
    }
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for jobs of `kind`. The handler gets the claimed job and
    /// returns how the run ended; it must not hold a database transaction across an
    /// external call.
    pub fn on<F, Fut>(mut self, kind: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.by_kind.insert(
            kind.into(),
            Arc::new(move |job| {
                let handler = handler.clone();
                Box::pin(async move { handler(job).await })
            }),
        );
        self
    }

    pub fn kinds(&self) -> Vec<&str> {
        self.by_kind.keys().map(String::as_str).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    pub(crate) fn get(&self, kind: &str) -> Option<BoxedHandler> {
        self.by_kind.get(kind).cloned()
    }
}
