/** Each CA's CRL has its own URL, so certificates keep pointing at their issuer's CRL after a rollover. */
export function crlPath(caId: number, format: 'der' | 'pem'): string {
  return `/crl/${caId}.${format}`;
}

export function crlUrl(baseUrl: string, caId: number, format: 'der' | 'pem'): string {
  return `${baseUrl.replace(/\/+$/, '')}${crlPath(caId, format)}`;
}
