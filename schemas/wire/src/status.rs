//! The one mapping between HTTP statuses and the project's error codes: the server answers
//! each of its errors with the status and code named here, and a client reading an answer
//! without the server's JSON body (a body limit, a proxy, a gateway) names it by the same
//! table, so a rate limit is `rate_limited` whichever side tells it.

use crate::protocol::ErrorBody;

/// An error the server answers that is not a rule of the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub code: &'static str,
    pub status: u16,
    /// What a client says when the status arrives without the server's body.
    pub bare: &'static str,
}

/// A rule refused the input (the code is the rule's own, e.g. `short_name.duplicate`).
pub const INVALID: u16 = 422;

pub const BAD_REQUEST: Known = Known {
    code: "bad_request",
    status: 400,
    bare: "请求无法识别",
};
pub const AUTH_REQUIRED: Known = Known {
    code: "auth.required",
    status: 401,
    bare: "尚未登录或登录已过期,请重新登录",
};
pub const FORBIDDEN: Known = Known {
    code: "auth.forbidden",
    status: 403,
    bare: "无权进行此操作",
};
pub const NOT_FOUND: Known = Known {
    code: "not_found",
    status: 404,
    bare: "服务器上找不到该地址,请核对服务器地址",
};
pub const METHOD: Known = Known {
    code: "request.method",
    status: 405,
    bare: "服务器不接受此请求方法",
};
pub const TIMEOUT: Known = Known {
    code: "request.timeout",
    status: 408,
    bare: "请求发送超时,请检查网络后重试",
};
pub const PAYLOAD_TOO_LARGE: Known = Known {
    code: "payload_too_large",
    status: 413,
    bare: "上传的数据超过服务器允许的大小",
};
pub const RATE_LIMITED: Known = Known {
    code: "rate_limited",
    status: 429,
    bare: "尝试过于频繁,请稍后再试",
};
pub const INTERNAL: Known = Known {
    code: "internal",
    status: 500,
    bare: "服务器内部错误",
};
/// Retryable: the database is busy or full.
pub const UNAVAILABLE: Known = Known {
    code: "store.busy",
    status: 503,
    bare: "服务器暂时不可用",
};

/// The statuses a client names without a body. Not 500 and 503: without the server's
/// body they may come from anything between (they stay `http.500`, or a network failure).
pub const ALL: [Known; 8] = [
    BAD_REQUEST,
    AUTH_REQUIRED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD,
    TIMEOUT,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
];

/// What a non-2xx answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server's own error (its JSON body), or a bare status named by [`ALL`].
    Server(ErrorBody),
    /// No server behind the answer: a proxy or gateway (502–504 without the server's
    /// body), which is a network failure to the user.
    Unreachable(String),
}

/// Read a non-2xx answer of `status` with `body`.
pub fn read_failure(status: u16, body: &[u8]) -> Failure {
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(body) {
        return Failure::Server(body);
    }
    if matches!(status, 502..=504) {
        return Failure::Unreachable(format!("服务器暂时不可用(HTTP {status})"));
    }
    let (code, what) = match ALL.iter().find(|k| k.status == status) {
        Some(k) => (k.code.to_owned(), k.bare),
        None => (format!("http.{status}"), "服务器返回错误"),
    };
    let text = String::from_utf8_lossy(body);
    let detail = schemas::text::truncate_for_message(text.trim());
    Failure::Server(ErrorBody {
        code,
        message: if detail.is_empty() {
            format!("{what}(HTTP {status})")
        } else {
            format!("{what}(HTTP {status}:{detail})")
        },
        violations: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(f: Failure) -> ErrorBody {
        match f {
            Failure::Server(b) => b,
            other => panic!("expected a server error, got {other:?}"),
        }
    }

    #[test]
    fn the_servers_body_is_read_as_it_is() {
        let body = ErrorBody {
            code: "short_name.duplicate".into(),
            message: "重名".into(),
            violations: Vec::new(),
        };
        let bytes = serde_json::to_vec(&body).unwrap();
        assert_eq!(server(read_failure(422, &bytes)), body);
        // Even from a gateway status: the server wrote it.
        assert_eq!(server(read_failure(503, &bytes)), body);
    }

    #[test]
    fn a_bare_status_gets_the_code_the_server_would_have_sent() {
        let b = server(read_failure(429, b""));
        assert_eq!(b.code, "rate_limited");
        assert_eq!(b.message, "尝试过于频繁,请稍后再试(HTTP 429)");
        let b = server(read_failure(413, b"  too big \n"));
        assert_eq!(b.code, "payload_too_large");
        assert!(b.message.ends_with("(HTTP 413:too big)"), "{}", b.message);
        assert_eq!(server(read_failure(418, b"")).code, "http.418");
        assert!(matches!(
            read_failure(502, b"<html>"),
            Failure::Unreachable(_)
        ));
    }

    #[test]
    fn each_status_and_code_is_named_once() {
        let all: Vec<Known> = ALL.iter().copied().chain([INTERNAL, UNAVAILABLE]).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.status, b.status, "{a:?} {b:?}");
                assert_ne!(a.code, b.code, "{a:?} {b:?}");
            }
        }
    }
}
