/**
 * The thread bcrypt comparisons run on (bcrypt-pool.ts): bcryptjs is pure JavaScript, and
 * even its async compare runs on the thread that calls it, in chunks that delay every other
 * request. Self-contained (it imports bcryptjs and nothing of the exporter's), so that a
 * bundler can package it as a file of its own. One comparison at a time, in the order asked.
 */
import { parentPort } from 'node:worker_threads'
import { compareSync } from 'bcryptjs'

/** What the pool sends: a comparison to run. */
export interface BcryptRequest {
  id: number
  password: string
  hash: string
}

/** What the worker answers: whether they matched, or why it could not tell. */
export type BcryptResponse = { id: number; ok: boolean } | { id: number; error: string }

parentPort?.on('message', ({ id, password, hash }: BcryptRequest) => {
  let response: BcryptResponse
  try {
    response = { id, ok: compareSync(password, hash) }
  } catch (err) {
    response = { id, error: String(err) }
  }
  parentPort?.postMessage(response)
})
