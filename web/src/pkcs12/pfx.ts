import { ContentInfo, EncryptedContent, EncryptedContentInfo, id_data, id_encryptedData } from '@peculiar/asn1-cms';
import {
  AuthenticatedSafe,
  CertBag,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
  PFX,
  PKCS12Attribute,
  PKCS8ShroudedKeyBag,
  SafeBag,
  SafeContents,
} from '@peculiar/asn1-pfx';
import { EncryptedData } from '@peculiar/asn1-pkcs8';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, DirectoryString } from '@peculiar/asn1-x509';
import { copyBytes, type Bytes } from './bytes.ts';
import { computeMacData, type MacParams } from './mac.ts';
import { OID } from './oids.ts';
import { CmsEncryptedData } from './schemas.ts';

/** One password-based encryption: the AlgorithmIdentifier (with salt/IV/iterations) and the ciphertext. */
export interface Encrypted {
  algorithm: AlgorithmIdentifier;
  ciphertext: Bytes;
}

/** What distinguishes the modern and the legacy file: how bags are encrypted and how the MAC is made. */
export interface Pkcs12Scheme {
  encrypt(plaintext: Bytes, password: string): Promise<Encrypted>;
  mac: MacParams;
}

export interface PfxContents {
  privateKeyPkcs8: Bytes;
  certificateDer: Bytes;
  chainDer: Bytes[];
  password: string;
  friendlyName: string;
}

function serialize(value: unknown): Bytes {
  return new Uint8Array(AsnConvert.serialize(value));
}

// PKCS12Attribute's constructor in @peculiar/asn1-pfx 2.11.1 drops its argument (`Object.assign(params)`),
// so the fields are set after construction.
function attribute(attrId: string, value: unknown): PKCS12Attribute {
  const attr = new PKCS12Attribute();
  attr.attrId = attrId;
  attr.attrValues = [AsnConvert.serialize(value)];
  return attr;
}

function bagAttributes(friendlyName: string, localKeyId: Bytes): PKCS12Attribute[] {
  const attributes = [attribute(OID.pkcs9LocalKeyId, new OctetString(localKeyId))];
  if (friendlyName !== '') attributes.push(attribute(OID.pkcs9FriendlyName, new DirectoryString({ bmpString: friendlyName })));
  // bagAttributes is a SET OF: DER orders its elements by their encodings, and the serializer does not.
  const encoded = attributes.map((attr) => ({ attr, der: serialize(attr) }));
  encoded.sort((a, b) => compareBytes(a.der, b.der));
  return encoded.map(({ attr }) => attr);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

function certBag(der: Bytes, attributes?: PKCS12Attribute[]): SafeBag {
  const bag = new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(der)) });
  return new SafeBag({ bagId: id_certBag, bagValue: AsnConvert.serialize(bag), bagAttributes: attributes });
}

/**
 * Layout as OpenSSL writes it: an encryptedData ContentInfo holding the certificate bags, then a data
 * ContentInfo holding the shrouded key bag; MAC over the DER of the AuthenticatedSafe.
 */
export async function buildPfx(contents: PfxContents, scheme: Pkcs12Scheme): Promise<Bytes> {
  const { password } = contents;
  const localKeyId = copyBytes(await globalThis.crypto.subtle.digest('SHA-1', contents.certificateDer));
  const attributes = bagAttributes(contents.friendlyName, localKeyId);

  const certContents = new SafeContents([certBag(contents.certificateDer, attributes), ...contents.chainDer.map((der) => certBag(der))]);
  const [encryptedCerts, encryptedKey] = await Promise.all([
    scheme.encrypt(serialize(certContents), password),
    scheme.encrypt(contents.privateKeyPkcs8, password),
  ]);

  const keyBag = new SafeBag({
    bagId: id_pkcs8ShroudedKeyBag,
    bagValue: AsnConvert.serialize(
      new PKCS8ShroudedKeyBag({ encryptionAlgorithm: encryptedKey.algorithm, encryptedData: new EncryptedData(encryptedKey.ciphertext) }),
    ),
    bagAttributes: attributes,
  });

  const certsInfo = new ContentInfo({
    contentType: id_encryptedData,
    content: AsnConvert.serialize(
      new CmsEncryptedData({
        version: 0,
        encryptedContentInfo: new EncryptedContentInfo({
          contentType: id_data,
          contentEncryptionAlgorithm: encryptedCerts.algorithm,
          encryptedContent: new EncryptedContent({ value: new OctetString(encryptedCerts.ciphertext) }),
        }),
      }),
    ),
  });
  const keyInfo = new ContentInfo({
    contentType: id_data,
    content: AsnConvert.serialize(new OctetString(serialize(new SafeContents([keyBag])))),
  });

  const authSafeContent = serialize(new AuthenticatedSafe([certsInfo, keyInfo]));
  const pfx = new PFX({
    version: 3,
    authSafe: new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(authSafeContent)) }),
    macData: await computeMacData(password, authSafeContent, scheme.mac),
  });
  return serialize(pfx);
}
