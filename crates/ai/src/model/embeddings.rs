//! Embeddings: `POST {base}/v1/embeddings`, with `encoding_format: "float"` asked for
//! explicitly (the SDK's default is base64, which not every compatible server speaks).
//! Results are matched to the inputs by `index`, never by order.

use outbound::{ApiRequest, ApiResponse, Failure};
use serde_json::{json, Value};

use super::{classify, ModelEndpoint};

/// One vector per input, in the inputs' order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u64,
}

/// The request embedding `inputs` (non-empty strings) with the endpoint's embedding
/// model; `None` when it has none.
pub fn embeddings_request(endpoint: &ModelEndpoint, inputs: &[String]) -> Option<ApiRequest> {
    let model = endpoint.embedding_model.as_deref()?;
    Some(
        endpoint
            .authorised(ApiRequest::new(
                http::Method::POST,
                endpoint.url("embeddings"),
            ))
            .json(&json!({"model": model, "input": inputs, "encoding_format": "float"})),
    )
}

fn malformed(why: &str) -> Failure {
    Failure::Retry {
        detail: format!("the embeddings answer is malformed: {why}"),
        after: None,
    }
}

/// Reads the vectors for `count` inputs.
pub fn parse_embeddings(response: &ApiResponse, count: usize) -> Result<Embeddings, Failure> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|_| malformed("not JSON"))?;
    let data = body["data"]
        .as_array()
        .ok_or_else(|| malformed("no data"))?;
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; count];
    for item in data {
        let index = item["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < count)
            .ok_or_else(|| malformed("an index out of range"))?;
        let vector = item["embedding"]
            .as_array()
            .ok_or_else(|| malformed("an embedding that is not a list of numbers"))?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| malformed("an embedding that is not a list of numbers"))?;
        vectors[index] = Some(vector);
    }
    let vectors = vectors
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| malformed("an input without its embedding"))?;
    Ok(Embeddings {
        vectors,
        prompt_tokens: body["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn answer(body: Value) -> ApiResponse {
        ApiResponse {
            status: StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: body.to_string().into_bytes().into(),
        }
    }

    #[test]
    fn vectors_are_matched_by_index_and_gaps_are_refused() {
        let mut endpoint = ModelEndpoint {
            base_url: "http://127.0.0.1:11434/v1".into(),
            api_key: String::new(),
            chat_model: "llama3.1".into(),
            embedding_model: None,
        };
        assert!(embeddings_request(&endpoint, &["a".into()]).is_none());
        endpoint.embedding_model = Some("nomic-embed-text".into());
        let request = embeddings_request(&endpoint, &["a".into(), "b".into()]).unwrap();
        assert_eq!(request.url, "http://127.0.0.1:11434/v1/embeddings");
        assert!(
            !request.headers.contains_key("authorization"),
            "no key, no header"
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["encoding_format"], "float");

        let reversed = json!({"object": "list", "model": "m", "usage": {"prompt_tokens": 4, "total_tokens": 4},
            "data": [{"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                     {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}]});
        let got = parse_embeddings(&answer(reversed), 2).unwrap();
        assert_eq!(got.vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(got.prompt_tokens, 4);
        let missing = json!({"data": [{"index": 0, "embedding": [1.0]}]});
        assert!(parse_embeddings(&answer(missing), 2).is_err());
        let wrong = json!({"data": [{"index": 5, "embedding": [1.0]}]});
        assert!(parse_embeddings(&answer(wrong), 1).is_err());
    }
}
