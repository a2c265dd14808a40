import { type BigIntStats, close, fstat, open, read } from 'node:fs';

/**
 * A read-only file descriptor with promise methods. Raw descriptors instead of
 * `fs.promises.FileHandle`: a FileHandle stays a live async resource until garbage collection
 * even after `close()`, which hides real leaks from handle checks; a raw descriptor is gone the
 * moment it is closed. Not safe for concurrent `close` and `read`.
 */
export class FileDescriptor {
  #fd: number | null;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens `path` for reading. Rejects with the Node error (ENOENT, EACCES…) when it cannot. */
  static open(path: string): Promise<FileDescriptor> {
    return new Promise((resolve, reject) => {
      open(path, 'r', (error, fd) => (error ? reject(error) : resolve(new FileDescriptor(fd))));
    });
  }

  /** Reads up to `length` bytes at `position` into `buffer` at `offset`. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    const fd = this.#descriptor();
    return new Promise((resolve, reject) => {
      read(fd, buffer, offset, length, position, (error, bytesRead) =>
        error ? reject(error) : resolve({ bytesRead }),
      );
    });
  }

  /** Stat of the open file (follows it through renames and deletion), with bigint fields. */
  stat(): Promise<BigIntStats> {
    const fd = this.#descriptor();
    return new Promise((resolve, reject) => {
      fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats)));
    });
  }

  /** Closes the descriptor. Idempotent. */
  close(): Promise<void> {
    const fd = this.#fd;
    if (fd === null) return Promise.resolve();
    this.#fd = null;
    return new Promise((resolve, reject) => {
      close(fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  #descriptor(): number {
    if (this.#fd === null) throw new Error('file descriptor is closed');
    return this.#fd;
  }
}
