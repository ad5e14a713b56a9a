import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, describe, it } from 'node:test'
import { findSshdBinary } from '../../src/sources/sshd-binary.ts'

describe('findSshdBinary', () => {
  const root = mkdtempSync(join(tmpdir(), 'sshd-binary-'))
  after(() => rmSync(root, { recursive: true, force: true }))

  /** A directory holding executables (mode 0o755) or plain files (0o644) of these names. */
  function dir(name: string, files: Record<string, number> = {}): string {
    const d = join(root, name)
    mkdirSync(d)
    for (const [file, mode] of Object.entries(files)) {
      writeFileSync(join(d, file), '#!/bin/sh\n')
      chmodSync(join(d, file), mode)
    }
    return d
  }

  const onlyPam = dir('alpine-pam', { 'sshd.pam': 0o755, 'sshd-session.pam': 0o755 })
  const both = dir('both', { sshd: 0o755, 'sshd.pam': 0o755 })
  const notExecutable = dir('not-executable', { sshd: 0o644 })
  const krb5 = dir('krb5', { 'sshd.krb5': 0o755 })
  const plain = dir('plain', { sshd: 0o755 })
  const empty = dir('empty')
  const path = (...dirs: string[]) => dirs.join(delimiter)

  it('finds sshd on PATH, then in /usr/sbin', () => {
    assert.equal(findSshdBinary(path(notExecutable, plain), empty), join(plain, 'sshd'))
    assert.equal(findSshdBinary(path(notExecutable), plain), join(plain, 'sshd'))
  })
  it("prefers sshd anywhere, then Alpine's sshd.pam (openssh-server-pam), then sshd.krb5", () => {
    assert.equal(findSshdBinary(path(onlyPam, both), empty), join(both, 'sshd'))
    assert.equal(findSshdBinary(path(onlyPam), plain), join(plain, 'sshd'))
    assert.equal(findSshdBinary(path(krb5, onlyPam), empty), join(onlyPam, 'sshd.pam'))
    assert.equal(findSshdBinary('', onlyPam), join(onlyPam, 'sshd.pam'))
    assert.equal(findSshdBinary(path(krb5), empty), join(krb5, 'sshd.krb5'))
  })
  it('is null when nothing is executable', () => {
    assert.equal(findSshdBinary(path(notExecutable), empty), null)
  })
})
