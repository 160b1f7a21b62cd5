import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { finished } from 'node:stream';
import { ApiException } from '@kubernetes/client-node';
import { CappedLogCollector } from '../logs/capped-log.js';
import type { KubeClient } from './kube-client.js';

/*
 * Requests to the API server over Node's own HTTP client with the kubeconfig's credentials: the
 * calls every task makes (create, read and delete its Job) and the log reads. client-node's
 * generated APIs cost 2.5× the CPU of the request itself (docs/decisions/011-own-requests-for-job-calls.md);
 * the credentials are still client-node's: `applyToHTTPSOptions` on every request gives the shared
 * keep-alive agent (proxy and TLS rules of client-node's own `createAgent`), the client
 * certificate and the `Authorization` header (token, token file, exec plugin: refreshed as
 * client-node refreshes them).
 */

/** One request: the path under the cluster's server URL, its query, and a JSON body. */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** `/apis/batch/v1/namespaces/default/jobs`: segments already encoded. */
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
}

/** Error bodies are small `Status` objects: at most this much of whatever arrives is kept. */
const maxErrorBodyBytes = 64 * 1024;

/**
 * Sends `request` and resolves with the response once its headers arrived, whatever its status
 * (the caller reads the body). `signal` aborts the request and its body.
 */
export async function openRequest(
  client: KubeClient,
  request: KubeRequest,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const { kubeConfig } = client;
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  // client-node joins the same way: the server URL may carry a path (an API proxy's prefix).
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}${request.path}`);
  for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  // `applyToHTTPSOptions` sets the headers as an object (the auth header), never as a raw list.
  const headers: http.OutgoingHttpHeaders = {
    ...(options.headers as http.OutgoingHttpHeaders | undefined),
    accept: 'application/json',
  };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise<IncomingMessage>((resolve, reject) => {
    const sent = (url.protocol === 'https:' ? https : http).request(
      url,
      { ...options, method: request.method, headers, signal },
      resolve,
    );
    sent.on('error', reject);
    sent.end(payload);
  });
}

/**
 * The `ApiException` a non-2xx response stands for, as client-node would throw it: the status,
 * the body as text (a `Status` object, for `toKubernetesApiError` to read) and the headers
 * (`Retry-After`). An error body cut short still leaves the status, which is what decides.
 */
export async function apiExceptionOf(response: IncomingMessage, message: string): Promise<ApiException<string>> {
  const body = new CappedLogCollector(maxErrorBodyBytes);
  response.on('data', (chunk: Buffer) => body.push(chunk));
  await new Promise<void>((resolve) => finished(response, () => resolve()));
  const status = response.statusCode ?? 0;
  return new ApiException(status, message, body.result().text, response.headers as Record<string, string>);
}

/**
 * Sends `request` and resolves with its JSON answer on a 2xx status; any other status rejects
 * with an `ApiException` (see {@link apiExceptionOf}), a cut connection with the socket's error.
 * The answer is the API's JSON as it is: timestamps are strings, not `Date`s as in client-node's
 * models.
 */
export async function requestJson<T>(client: KubeClient, request: KubeRequest, signal: AbortSignal): Promise<T> {
  const response = await openRequest(client, request, signal);
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    throw await apiExceptionOf(response, `${request.method} ${request.path} answered ${status}`);
  }
  response.setEncoding('utf8');
  let text = '';
  response.on('data', (chunk: string) => (text += chunk));
  await new Promise<void>((resolve, reject) => finished(response, (err) => (err ? reject(err) : resolve())));
  return JSON.parse(text) as T;
}
