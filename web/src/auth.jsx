import React, { createContext, useCallback, useContext, useEffect, useState } from 'react';
import { api, ApiError, setUnauthorizedHandler } from './api.js';

const AuthContext = createContext(null);

export function AuthProvider({ children, initialUser }) {
  // undefined: not known yet; null: signed out; object: GET /me
  const [user, setUser] = useState(initialUser);

  useEffect(() => {
    setUnauthorizedHandler(() => setUser(null));
    if (initialUser !== undefined) return undefined;
    let live = true;
    api.me().then(
      (me) => live && setUser(me),
      () => live && setUser(null),
    );
    return () => {
      live = false;
    };
  }, [initialUser]);

  const login = useCallback(async (username, password) => {
    await api.login(username, password); // the reply's token is ignored: the HttpOnly cookie is the session
    setUser(await api.me());
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    setUser(null);
  }, []);

  return <AuthContext.Provider value={{ user, login, logout }}>{children}</AuthContext.Provider>;
}

export const useAuth = () => useContext(AuthContext);
