/** Object identifiers not exported by the installed @peculiar packages. */
export const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  pkcs9FriendlyName: '1.2.840.113549.1.9.20',
  pkcs9LocalKeyId: '1.2.840.113549.1.9.21',
} as const;
