;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar process) -- child processes with argument lists and timeouts.
;;;
;;; Every tool the differential engine runs (qemu-img, qemu-io, an engine
;;; under test) goes through `run-command': an argument list (never a shell
;;; string), stdout and stderr captured to files in a private directory, and
;;; a timeout after which the child is killed.  A child that cannot be
;;; started, times out or dies from a signal is reported as such, so callers
;;; can call the case inconclusive instead of a finding.
;;;
;;; Each child leads its own process group (spawn-process-group from the
;;; extension): a timeout, an interrupt, or the child's own exit kills the
;;; whole group, so a wrapper script's children never outlive it.  Live
;;; children and private directories are registered, so `request-abort!'
;;; (the recipes' SIGINT/SIGTERM handler) can stop every running child --
;;; run-command then throws 'instar-abort in its caller's thread -- and
;;; `abort-cleanup!' can remove what the unwinding left.

(define-module (instar process)
  #:use-module (instar util)
  #:use-module (ice-9 textual-ports)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 threads)
  #:export (run-command
            make-result
            result?
            result-argv
            result-class
            result-status
            result-signal
            result-stdout
            result-stderr
            result-seconds
            result-ok?
            result->alist
            make-private-directory
            delete-tree
            %child-seconds
            reset-child-seconds!
            process-groups?
            request-abort!
            abort-requested
            abort-key?
            kill-live-children!
            abort-cleanup!))

(define-record-type <result>
  (make-result argv class status signal stdout stderr seconds)
  result?
  (argv result-argv)          ; list of strings, program first
  (class result-class)        ; 'ok 'error 'signal 'timeout 'spawn-failed
  (status result-status)      ; exit status or #f
  (signal result-signal)      ; terminating signal or #f
  (stdout result-stdout)      ; string
  (stderr result-stderr)      ; string
  (seconds result-seconds))   ; wall time of the child

(define (result-ok? r)
  "Whether result R ran and exited 0 (class ok)."
  (eq? (result-class r) 'ok))

(define (clip s n)
  (if (> (string-length s) n) (string-append (substring s 0 n) "...") s))

(define (result->alist r)
  "A JSON-ready description of R (outputs clipped to 4 KiB)."
  `(("argv" . ,(list->vector (result-argv r)))
    ("class" . ,(symbol->string (result-class r)))
    ("status" . ,(or (result-status r) 'null))
    ("signal" . ,(or (result-signal r) 'null))
    ("stdout" . ,(clip (result-stdout r) 4096))
    ("stderr" . ,(clip (result-stderr r) 4096))))

;; Total wall time spent waiting for children, for the benchmark's
;; "floor" figure.  Updated under a mutex because workers are threads.
(define child-seconds 0.0)
(define child-mutex (make-mutex))
(define (%child-seconds)
  "The seconds children have run since `reset-child-seconds!' (summed
over every thread)."
  child-seconds)
(define (reset-child-seconds!)
  "Start counting children's seconds from zero."
  (set! child-seconds 0.0))
(define (add-child-seconds! s)
  (with-mutex child-mutex (set! child-seconds (+ child-seconds s))))

;;; What an interrupt must clean up: live children (pid -> #t when the pid
;;; leads its own group) and private directories.  The mutex is recursive:
;;; a signal handler's async may run while its own thread holds it.
(define registry-mutex (make-mutex 'recursive))
(define live-children (make-hash-table))
(define live-dirs (make-hash-table))

(define (register-child! pid group?)
  (with-mutex registry-mutex (hashv-set! live-children pid group?)))
(define (unregister-child! pid)
  (with-mutex registry-mutex (hashv-remove! live-children pid)))

(define abort-reason #f)

(define (abort-requested)
  "#f, or what `request-abort!' was given (a signal number, or a symbol)."
  abort-reason)

(define (abort-key? key)
  "Whether KEY (a throw key) is the one run-command throws after an abort."
  (eq? key 'instar-abort))

(define (kill-child! pid group?)
  ;; SIGKILL: qemu-img is crash-consistent and a hanging child must go.
  (when group? (false-if-exception (kill (- pid) SIGKILL)))
  (false-if-exception (kill pid SIGKILL)))

(define (kill-live-children!)
  "Kill every running child and its process group (not reaped here: the
thread that started each child reaps it)."
  (with-mutex registry-mutex
    (hash-for-each (lambda (pid group?) (kill-child! pid group?)) live-children)))

(define (request-abort! why)
  "Stop the run: every running child (and its group) is killed and every
later or pending run-command throws 'instar-abort.  WHY (a signal number or
a symbol) is what `abort-requested' returns afterwards; the first one
stays."
  (unless abort-reason (set! abort-reason why))
  (kill-live-children!))

(define (make-private-directory parent prefix)
  "A fresh directory only we can read, under PARENT."
  (let ((d (mkdtemp (string-append parent "/" prefix "XXXXXX"))))
    (chmod d #o700)
    (with-mutex registry-mutex (hash-set! live-dirs d #t))
    d))

(define (abort-cleanup!)
  "Kill what still runs and remove every private directory still there
(after an abort, once the workers have unwound or were given up on)."
  (kill-live-children!)
  (for-each delete-tree
            (with-mutex registry-mutex (hash-map->list (lambda (d _) d) live-dirs))))

(define (delete-tree path)
  "Remove PATH and everything below it (no symlinks are followed)."
  (with-mutex registry-mutex (hash-remove! live-dirs path))
  (let ((st (false-if-exception (lstat path))))
    (when st
      (if (eq? (stat:type st) 'directory)
          (let ((dir (opendir path)))
            (let loop ()
              (let ((e (readdir dir)))
                (unless (eof-object? e)
                  (unless (member e '("." ".."))
                    (delete-tree (string-append path "/" e)))
                  (loop))))
            (closedir dir)
            (rmdir path))
          (delete-file path)))))

(define core-spawn
  ;; Looked up by variable: a failed load can leave a half-made module.
  (let* ((m (false-if-exception (resolve-interface '(instar core))))
         (v (and m (module-variable m 'spawn-process-group))))
    (and v (variable-bound? v) (variable-ref v))))

(define (process-groups?)
  "Whether children get their own process group (the extension is loaded).
Without it a child is started as before and only the child itself is
killed on a timeout or an interrupt."
  (and core-spawn #t))

(define (resolve-program prog)
  (if (string-index prog #\/)
      prog
      (search-path (parse-path (or (getenv "PATH") "")) prog)))

(define name-counter 0)
(define (next-name!)
  (with-mutex child-mutex
    (set! name-counter (+ name-counter 1))
    name-counter))

(define (slurp file)
  (if (file-exists? file)
      (call-with-input-file file get-string-all #:encoding "ISO-8859-1")
      ""))

(define* (run-command argv #:key (timeout 60) (scratch #f))
  "Run ARGV (program then arguments) with stdin from /dev/null, capturing
stdout and stderr, killing it after TIMEOUT seconds.  SCRATCH is a private
directory for the capture files (a temporary one when #f).  Returns a
result record."
  (let* ((dir (or scratch (make-private-directory (or (getenv "TMPDIR") "/tmp")
                                                  "instar-run.")))
         (stem (string-append dir "/.child-" (number->string (getpid)) "-"
                            (number->string (next-name!))))
         (out-file (string-append stem ".out"))
         (err-file (string-append stem ".err"))
         (t0 (now)))
    (define (finish class status sig)
      (let ((r (make-result argv class status sig (slurp out-file) (slurp err-file)
                            (- (now) t0))))
        (false-if-exception (delete-file out-file))
        (false-if-exception (delete-file err-file))
        (unless scratch (delete-tree dir))
        (add-child-seconds! (result-seconds r))
        r))
    (let* ((in (open-input-file "/dev/null"))
           (out (open-output-file out-file))
           (err (open-output-file err-file))
           (spawn-error #f)
           (pid (and (not abort-reason)
                     (catch 'system-error
                       (lambda ()
                         (if core-spawn
                             (let ((prog (resolve-program (car argv))))
                               (if prog
                                   (core-spawn (cons prog (cdr argv)) (port->fdes in)
                                               (port->fdes out) (port->fdes err))
                                   (begin (set! spawn-error "not found in PATH") #f)))
                             (spawn-with-ports (car argv) (cdr argv) in out err)))
                       (lambda args
                         (set! spawn-error
                               (false-if-exception
                                (strerror (car (list-ref args 4)))))
                         #f))))
           (group? (and pid core-spawn #t)))
      (close-port in) (close-port out) (close-port err)
      (when pid (register-child! pid group?))
      (define (reap!)
        ;; The leader is gone; whatever it left in its group goes too.
        (unregister-child! pid)
        (when group? (false-if-exception (kill (- pid) SIGKILL))))
      (cond
       ((and (not pid) abort-reason)
        (finish 'spawn-failed #f #f)
        (throw 'instar-abort abort-reason))
       ((not pid)
        (when spawn-error
          (call-with-output-file err-file
            (lambda (p) (format p "cannot run ~a: ~a~%" (car argv) spawn-error))))
        (finish 'spawn-failed #f #f))
       (else
          ;; Poll with a growing interval: children usually finish in
          ;; milliseconds, and a blocking waitpid could not time out.
          (let loop ((delay 200))
            (let ((w (waitpid pid WNOHANG)))
              (cond
               ((not (zero? (car w)))
                (reap!)
                (let ((st (cdr w)))
                  (cond
                   (abort-reason
                    ;; Killed by the abort (or finished just as it came):
                    ;; the case is abandoned either way.
                    (finish 'signal #f #f)
                    (throw 'instar-abort abort-reason))
                   ((status:exit-val st)
                    => (lambda (v)
                         ;; exec failure in the child shows as 127.
                         (if (and (= v 127) (string=? "" (slurp out-file))
                                  (not (file-exists? (car argv)))
                                  (not (search-path (parse-path (getenv "PATH"))
                                                    (car argv))))
                             (finish 'spawn-failed v #f)
                             (finish (if (zero? v) 'ok 'error) v #f))))
                   (else (finish 'signal #f (status:term-sig st))))))
               ((or abort-reason (> (- (now) t0) timeout))
                (kill-child! pid group?)
                (waitpid pid)
                (reap!)
                (let ((r (finish 'timeout #f #f)))
                  (when abort-reason (throw 'instar-abort abort-reason))
                  r))
               (else
                (usleep delay)
                (loop (min 20000 (* delay 2))))))))))))
