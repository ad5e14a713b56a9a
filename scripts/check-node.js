// Runs before `npm start` and `npm test`: the sources are TypeScript that Node
// runs directly (type stripping), which needs Node.js 22.18 or newer.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `sshd-exporter needs Node.js 24 (or 22.18+); this is ${process.version}.\n` +
      'Install Node.js 24, or run: PATH="$(bash scripts/install-node.sh):$PATH"\n',
  )
  process.exit(1)
}
