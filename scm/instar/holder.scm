;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar holder) -- a qemu-io process holding an image open.
;;;
;;; The `held' start mode of resize-diff resizes an image while another
;;; qemu process has it open read-write, as a running guest would.  The
;;; holder is qemu-io reading commands from a pipe we keep open: it holds
;;; the image (and qemu's locks on it) until we send `quit'.  It is ready
;;; once its locks show in /proc/locks, so a case never races the holder's
;;; start-up.

(define-module (instar holder)
  #:use-module (instar util)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 rdelim)
  #:export (start-holder
            holder?
            holder-pid
            stop-holder!
            file-locked?))

(define-record-type <holder>
  (make-holder pid port)
  holder?
  (pid holder-pid)
  (port holder-port set-holder-port!))

(define (covers-last-byte? line)
  ;; qemu sets its lock bytes one fcntl at a time, the permission bytes
  ;; (100+i) first, then the bytes of what it will not share (200+i) up
  ;; to 203.  Ready means the range on LINE reaches byte 203: seeing any
  ;; earlier byte alone would let a case race the rest of the set-up.
  (let* ((fields (filter (lambda (f) (not (string-null? f)))
                         (string-split line #\space)))
         (n (length fields)))
    (and (>= n 2)
         (let ((start (string->number (list-ref fields (- n 2))))
               (end (list-ref fields (- n 1))))
           (and start (<= start 203)
                (or (string=? end "EOF")
                    (let ((e (string->number end))) (and e (>= e 203)))))))))

(define (file-locked? path)
  "Whether some open file description holds an OFD lock on PATH (the kind
qemu takes) that reaches byte 203, the last of qemu's lock bytes, per
/proc/locks."
  ;; /proc/locks names a file as MAJOR:MINOR:INODE (device numbers in
  ;; hex, at least two digits).  The device matters: tmpfs mounts reuse
  ;; small inode numbers, so an inode alone can name another test's file.
  (define (hex2 n)
    (let ((h (number->string n 16))) (if (< (string-length h) 2) (string-append "0" h) h)))
  (let ((st (false-if-exception (stat path))))
    (and st
         (let* ((dev (stat:dev st))
                (major (logior (logand (ash dev -8) #xfff)
                               (logand (ash dev -32) (lognot #xfff))))
                (minor (logior (logand dev #xff)
                               (logand (ash dev -12) (lognot #xff))))
                (needle (string-append " " (hex2 major) ":" (hex2 minor) ":"
                                       (number->string (stat:ino st)) " ")))
           (call-with-input-file "/proc/locks"
             (lambda (p)
               (let loop ()
                 (let ((line (read-line p)))
                   (cond ((eof-object? line) #f)
                         ((and (string-contains line "OFDLCK")
                               (string-contains line needle)
                               (covers-last-byte? line))
                          #t)
                         (else (loop)))))))))))

(define* (start-holder qemu-io format path #:key (log "/dev/null") (timeout 20))
  "Start QEMU-IO holding PATH (FORMAT) open read-write, its output to LOG.
Returns a holder once its locks are in place, or #f if it could not start
or did not lock PATH within TIMEOUT seconds (it is then stopped)."
  (let* ((fds (pipe))
         (out (open-output-file log))
         (pid (catch 'system-error
                (lambda ()
                  ;; Our end must not leak into the child: the child would
                  ;; keep its own stdin open and never see end of file.
                  (fcntl (cdr fds) F_SETFD FD_CLOEXEC)
                  (spawn-with-ports qemu-io (list "-f" format path) (car fds) out out))
                (lambda args #f))))
    (close-port (car fds))
    (close-port out)
    (if (not pid)
        (begin (close-port (cdr fds)) #f)
        (let ((h (make-holder pid (cdr fds)))
              (t0 (get-internal-real-time)))
          (let loop ()
            (cond ((file-locked? path) h)
                  ((or (> (- (get-internal-real-time) t0)
                          (* timeout internal-time-units-per-second))
                       (not (zero? (car (waitpid pid WNOHANG)))))
                   (stop-holder! h)
                   #f)
                  (else (usleep 10000) (loop))))))))

(define* (stop-holder! h #:key (timeout 20))
  "Ask H's qemu-io to quit and reap it (killed after TIMEOUT seconds).
Safe to call twice."
  (let ((port (holder-port h)))
    (when port
      (set-holder-port! h #f)
      (false-if-exception (begin (display "quit\n" port) (force-output port)))
      (false-if-exception (close-port port))
      (let ((t0 (get-internal-real-time)))
        (let loop ()
          (let ((w (false-if-exception (waitpid (holder-pid h) WNOHANG))))
            (cond ((or (not w) (not (zero? (car w)))) #t)
                  ((> (- (get-internal-real-time) t0)
                      (* timeout internal-time-units-per-second))
                   (false-if-exception (kill (holder-pid h) SIGKILL))
                   (false-if-exception (waitpid (holder-pid h)))
                   #t)
                  (else (usleep 10000) (loop)))))))))
