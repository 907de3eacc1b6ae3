// A small C interface over libcurl's easy API for VoxelNet: curl_easy_setopt is variadic, which Swift
// cannot call, so every option VoxelFlow uses is set here from one plain struct. No curl type crosses
// this header.
#ifndef VF_CURL_H
#define VF_CURL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Receives a chunk of the response body or one header line; returns `size` to go on, anything else to
/// abort the transfer (the result then says "aborted by the receiver").
typedef size_t (*vf_http_sink)(const char *data, size_t size, void *context);

typedef struct {
    const char *url;
    /// "GET" or "POST".
    const char *method;
    /// Request headers, each "Name: value".
    const char *const *headers;
    int header_count;
    /// "user:password" for HTTP basic authentication, or NULL.
    const char *user_password;
    /// A bearer token (Authorization: Bearer …), or NULL.
    const char *bearer_token;
    /// A PEM file of certificate authorities to trust instead of the system's, or NULL.
    const char *ca_file;
    /// Seconds to connect; seconds the transfer may stay below 1 byte/s before it is abandoned.
    long connect_timeout;
    long stall_timeout;
    /// Bytes per second to receive at most (0: no limit).
    long long max_receive_rate;
    /// The request body for POST (not copied; must live until the call returns), or NULL.
    const unsigned char *body;
    size_t body_size;
    vf_http_sink body_sink;
    void *body_context;
    vf_http_sink header_sink;
    void *header_context;
} vf_http_request;

typedef struct {
    /// The HTTP status of the last response (0 when none arrived).
    long status;
    /// 0 when the transfer completed (whatever the HTTP status); else libcurl's error code.
    int curl_code;
    /// libcurl's message for curl_code, with its detail.
    char message[512];
} vf_http_result;

/// Initialises libcurl once per process (thread-safe to call repeatedly).
void vf_http_global_init(void);

/// Performs one request. Returns 0 when the transfer completed (see result->status), -1 otherwise.
int vf_http_perform(const vf_http_request *request, vf_http_result *result);

#ifdef __cplusplus
}
#endif

#endif
