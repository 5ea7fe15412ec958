// camurl.js — camera URLs with the credentials kept out of the URL field: the form has a URL without them, a
// user name and a password input (masked); they are composed into scheme://user:password@host/... on save.

const RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)(?:([^@/?#]*)@)?(.*)$/s;

/** {base, username, password} of a URL; password is the stored text (the server sends "***"). */
export function splitCredentials(url) {
  const m = RE.exec(url || '');
  if (!m || m[2] === undefined) return { base: url || '', username: '', password: '' };
  const info = m[2];
  const i = info.indexOf(':');
  const dec = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return {
    base: m[1] + m[3],
    username: dec(i < 0 ? info : info.slice(0, i)),
    password: i < 0 ? '' : info.slice(i + 1) === '***' ? '***' : dec(info.slice(i + 1)),
  };
}

/** The URL with user name and password put in (percent-encoded); without them when both are empty. */
export function composeUrl(base, username, password) {
  const m = RE.exec(base || '');
  if (!m || (!username && !password)) return base;
  const enc = (s) => encodeURIComponent(s);
  return `${m[1]}${enc(username)}${password ? `:${password === '***' ? '***' : enc(password)}` : ''}@${m[3]}`;
}
