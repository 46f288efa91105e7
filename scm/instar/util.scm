;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar util) -- small helpers every other module shares, defined once:
;;; the wall clock, directories, JSON files, ISO times and starting a
;;; child on given ports.

(define-module (instar util)
  #:use-module (json)
  #:use-module (ice-9 popen)
  #:export (now
            mkdir-p
            read-json-file
            write-json-file
            iso-time
            spawn-with-ports))

(define (now)
  "The wall-clock time in seconds since the epoch, as a real number with
microseconds (for rates and durations)."
  (let ((t (gettimeofday))) (+ (car t) (/ (cdr t) 1e6))))

(define (mkdir-p dir)
  "Create DIR and its missing parents (mode 755); an existing DIR is fine.
A directory another process creates at the same moment is no error."
  (unless (file-exists? dir)
    (mkdir-p (dirname dir))
    (false-if-exception (mkdir dir #o755))))

(define (write-json-file file value)
  "Write VALUE (guile-json data) to FILE as pretty JSON: written to
FILE.tmp first, then renamed, so a reader never sees half a file."
  (let ((tmp (string-append file ".tmp")))
    (call-with-output-file tmp
      (lambda (p) (scm->json value p #:pretty #t) (newline p)))
    (rename-file tmp file)))

(define (read-json-file file)
  "The JSON value in FILE, as guile-json reads it (objects as alists,
arrays as vectors)."
  (call-with-input-file file json->scm))

(define (iso-time t)
  "T (seconds since the epoch) as an ISO 8601 UTC time, e.g.
2026-01-31T12:00:00Z."
  (strftime "%Y-%m-%dT%H:%M:%SZ" (gmtime t)))

(define spawn-on-ports
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

(define (spawn-with-ports prog args in out err)
  "Start PROG (a file name, or a name looked up in PATH) with the argument
list ARGS, its standard input, output and error the file ports IN, OUT and
ERR; return its pid without waiting.  No shell is involved.  Raises
`system-error' when PROG cannot be started."
  (spawn-on-ports prog args in out err))
