// libcurl easy-API shim for VoxelNet (see include/vf_curl.h for why it exists).
#include "vf_curl.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t vf_curl_once = PTHREAD_ONCE_INIT;

static void vf_curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void vf_http_global_init(void) { pthread_once(&vf_curl_once, vf_curl_init_once); }

typedef struct {
    vf_http_sink sink;
    void *context;
} vf_sink_box;

static size_t vf_write(char *data, size_t size, size_t count, void *user) {
    vf_sink_box *box = (vf_sink_box *)user;
    size_t total = size * count;
    if (box->sink == NULL) return total;
    return box->sink(data, total, box->context);
}

int vf_http_perform(const vf_http_request *request, vf_http_result *result) {
    memset(result, 0, sizeof *result);
    vf_http_global_init();
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        result->curl_code = CURLE_FAILED_INIT;
        snprintf(result->message, sizeof result->message, "libcurl could not start a transfer");
        return -1;
    }
    char detail[CURL_ERROR_SIZE];
    detail[0] = 0;
    struct curl_slist *headers = NULL;
    for (int i = 0; i < request->header_count; i++) headers = curl_slist_append(headers, request->headers[i]);

    vf_sink_box body = {request->body_sink, request->body_context};
    vf_sink_box head = {request->header_sink, request->header_context};
    curl_easy_setopt(curl, CURLOPT_URL, request->url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, vf_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, vf_write);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request->connect_timeout > 0 ? request->connect_timeout : 30L);
    if (request->stall_timeout > 0) {
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request->stall_timeout);
    }
    if (request->max_receive_rate > 0) curl_easy_setopt(curl, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)request->max_receive_rate);
    if (request->user_password != NULL) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, request->user_password);
    }
    if (request->bearer_token != NULL) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, request->bearer_token);
    }
    if (request->ca_file != NULL) curl_easy_setopt(curl, CURLOPT_CAINFO, request->ca_file);
    if (request->method != NULL && strcmp(request->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body != NULL ? (const char *)request->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_size);
    }

    CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result->status);
    result->curl_code = (int)code;
    if (code != CURLE_OK) {
        if (code == CURLE_WRITE_ERROR) {
            snprintf(result->message, sizeof result->message, "aborted by the receiver");
        } else {
            snprintf(result->message, sizeof result->message, "%s%s%s", curl_easy_strerror(code), detail[0] ? ": " : "", detail);
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return code == CURLE_OK ? 0 : -1;
}
