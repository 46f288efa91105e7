;;; (instar process) -- child processes with argument lists and timeouts.
;;;
;;; Every tool the differential engine runs (qemu-img, qemu-io, an engine
;;; under test) goes through `run-command': an argument list (never a shell
;;; string), stdout and stderr captured to files in a private directory, and
;;; a timeout after which the child is killed.  A child that cannot be
;;; started, times out or dies from a signal is reported as such, so callers
;;; can call the case inconclusive instead of a finding.

(define-module (instar process)
  #:use-module (ice-9 popen)
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
            reset-child-seconds!))

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

(define (result-ok? r) (eq? (result-class r) 'ok))

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
(define (%child-seconds) child-seconds)
(define (reset-child-seconds!) (set! child-seconds 0.0))
(define (add-child-seconds! s)
  (with-mutex child-mutex (set! child-seconds (+ child-seconds s))))

(define (now)
  (let ((t (gettimeofday)))
    (+ (car t) (/ (cdr t) 1e6))))

(define (make-private-directory parent prefix)
  "A fresh directory only we can read, under PARENT."
  (let ((d (mkdtemp (string-append parent "/" prefix "XXXXXX"))))
    (chmod d #o700)
    d))

(define (delete-tree path)
  "Remove PATH and everything below it (no symlinks are followed)."
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

(define start-child
  ;; Guile 3.0.9 has `spawn'; 3.0.8 has the internal `piped-process',
  ;; which execs PROG with ARGS and inherits the current ports' fds.
  (if (defined? 'spawn)
      (lambda (prog args in out err)
        ((module-ref (resolve-interface '(guile)) 'spawn) prog (cons prog args)
         #:input in #:output out #:error err))
      (let ((piped-process (@@ (ice-9 popen) piped-process)))
        (lambda (prog args in out err)
          (with-input-from-port in
            (lambda ()
              (with-output-to-port out
                (lambda ()
                  (with-error-to-port err
                    (lambda () (piped-process prog args)))))))))))

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
           (pid (catch 'system-error
                  (lambda () (start-child (car argv) (cdr argv) in out err))
                  (lambda args #f))))
      (close-port in) (close-port out) (close-port err)
      (if (not pid)
          (finish 'spawn-failed #f #f)
          ;; Poll with a growing interval: children usually finish in
          ;; milliseconds, and a blocking waitpid could not time out.
          (let loop ((delay 200))
            (let ((w (waitpid pid WNOHANG)))
              (cond
               ((not (zero? (car w)))
                (let ((st (cdr w)))
                  (cond
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
               ((> (- (now) t0) timeout)
                (false-if-exception (kill pid SIGKILL))
                (waitpid pid)
                (finish 'timeout #f #f))
               (else
                (usleep delay)
                (loop (min 20000 (* delay 2)))))))))))
