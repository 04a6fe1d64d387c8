//! Tasks on a contact: the AI leaves a to-do for the location's team ("call back Tuesday",
//! "send the quote") that shows up in GHL next to the contact.

use std::time::SystemTime;

use http::Method;
use outbound::{ApiRequest, ApiResponse};
use serde::{Deserialize, Serialize};

use super::{classify, missing, read_json, segment, Api, ApiVersion};
use crate::payload::lenient;
use crate::{format_rfc3339, Error};

/// A task to create (`CreateTaskParams`). It is always created open: `completed` is
/// required by GHL and sent as `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewTask<'a> {
    pub title: &'a str,
    pub body: Option<&'a str>,
    /// Sent as ISO 8601 in UTC (`2020-10-25T11:00:00.000Z`).
    pub due: SystemTime,
    /// A user id of the location.
    pub assigned_to: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskBody<'a> {
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    due_date: String,
    completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    assigned_to: Option<&'a str>,
}

/// A task as GHL answers it (`TaskSchema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_date: Option<String>,
    pub completed: Option<bool>,
    pub contact_id: Option<String>,
    pub assigned_to: Option<String>,
}

impl Api<'_> {
    /// `POST /contacts/{contactId}/tasks`.
    pub fn create_task(&self, contact_id: &str, task: &NewTask<'_>) -> ApiRequest {
        let body = TaskBody {
            title: task.title,
            body: task.body,
            due_date: format_rfc3339(task.due),
            completed: false,
            assigned_to: task.assigned_to,
        };
        let path = format!("/contacts/{}/tasks", segment(contact_id));
        self.request(Method::POST, &path, ApiVersion::Standard)
            .json(&body)
    }
}

/// The created task's answer: 201 `{"task": {id, title, …}}`. A 2xx without a task id is
/// retried: without it the task cannot be shown as done to the AI or the agent.
pub fn parse_task(response: &ApiResponse) -> Result<Task, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TaskFields {
        #[serde(default, deserialize_with = "lenient::opt_string")]
        id: Option<String>,
        #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
        legacy_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        title: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        body: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        due_date: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_bool")]
        completed: Option<bool>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        contact_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        assigned_to: Option<String>,
    }
    #[derive(Deserialize)]
    struct Created {
        #[serde(default, deserialize_with = "lenient::tolerant")]
        task: Option<TaskFields>,
    }
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let created: Created = read_json(response, "GHL task")?;
    let task = created
        .task
        .ok_or_else(|| missing("GHL answered the task without a task: it was not created"))?;
    let id = [task.id, task.legacy_id]
        .into_iter()
        .flatten()
        .find(|id| !id.trim().is_empty())
        .ok_or_else(|| missing("GHL answered the task without an id: it was not created"))?;
    Ok(Task {
        id,
        title: task.title,
        body: task.body,
        due_date: task.due_date,
        completed: task.completed,
        contact_id: task.contact_id,
        assigned_to: task.assigned_to,
    })
}
