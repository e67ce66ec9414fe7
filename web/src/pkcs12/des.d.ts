// Minimal declaration for the parts of des.js (CommonJS, untyped) that the legacy PKCS#12 writer uses.
declare module 'des.js' {
  interface DesCipher {
    update(data: ArrayLike<number>): number[];
    final(): number[];
  }
  interface DesCipherOptions {
    type: 'encrypt' | 'decrypt';
    key: ArrayLike<number>;
    iv?: ArrayLike<number>;
    padding?: boolean;
  }
  interface DesCipherClass {
    create(options: DesCipherOptions): DesCipher;
  }
  const des: {
    DES: DesCipherClass;
    EDE: DesCipherClass;
    CBC: { instantiate(base: DesCipherClass): DesCipherClass };
  };
  export default des;
}
