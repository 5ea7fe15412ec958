// roles.js — what each role may see. The server enforces the same rules; the UI leaves out (does not render)
// what a role may not see.
export const ROLES = ['recognition', 'analyst', 'admin'];
export const canSeeExpressions = (role) => role === 'analyst' || role === 'admin';
export const isAdmin = (role) => role === 'admin';
