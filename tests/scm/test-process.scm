;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-process.scm -- (instar process): children in their own process
;;; group, whole groups killed on a timeout or when the leader exits,
;;; exec failures reported, and the abort the recipes' signal handlers
;;; request (run-command throws, nothing is left behind).
(use-modules (srfi srfi-1) (srfi srfi-64) (ice-9 ftw) (ice-9 textual-ports) (ice-9 rdelim)
             (instar process))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-process-test."))

(define (write-script name text)
  (let ((file (string-append tmp "/" name)))
    (call-with-output-file file (lambda (p) (display text p)))
    (chmod file #o755)
    file))

(define (proc-state pid)
  "The state letter of PID from /proc, or #f when it is gone."
  (let ((s (false-if-exception
            (call-with-input-file (format #f "/proc/~a/stat" pid) get-string-all))))
    (and s (let ((close (string-rindex s #\))))
             (string-ref s (+ close 2))))))

(define (running? pid)
  ;; A zombie is dead (where PID 1 does not reap, killed orphans stay).
  (let ((st (proc-state pid))) (and st (not (char=? st #\Z)))))

(define (read-pids file)
  (if (file-exists? file)
      (call-with-input-file file
        (lambda (p)
          (let loop ((acc '()))
            (let ((l (read-line p)))
              (if (eof-object? l) (reverse acc)
                  (loop (if (string->number l) (cons (string->number l) acc) acc)))))))
      '()))

(test-begin "process")

(test-group "process groups"
  (test-assert "the extension's spawn is in use" (process-groups?))
  ;; /proc/self/stat of the child itself: field 1 is its pid, field 5 its
  ;; process group.
  (let* ((r (run-command '("cat" "/proc/self/stat")))
         (after (substring (result-stdout r) (+ 2 (string-rindex (result-stdout r) #\)))))
         (fields (string-split after #\space))
         (pid (string->number (car (string-split (result-stdout r) #\space))))
         (pgrp (string->number (list-ref fields 2))))
    (test-eq "ok" 'ok (result-class r))
    (test-equal "a child leads its own process group" pid pgrp)
    (test-assert "not ours" (not (= pgrp (getpgrp)))))
  (let* ((pids (string-append tmp "/pids"))
         (script (write-script "hang" (string-append "#!/bin/sh
sleep 1000 &
echo $! > " pids "
wait
")))
         (r (run-command (list script) #:timeout 1)))
    (test-eq "a hanging wrapper times out" 'timeout (result-class r))
    (let ((ps (read-pids pids)))
      (test-equal "its child was started" 1 (length ps))
      (usleep 100000)
      (test-assert "its child is killed with it" (not (any running? ps)))))
  (let* ((pids (string-append tmp "/pids2"))
         (script (write-script "leave" (string-append "#!/bin/sh
sleep 1000 &
echo $! > " pids "
exit 0
")))
         (r (run-command (list script) #:timeout 10)))
    (test-eq "a wrapper that exits leaving a child: ok" 'ok (result-class r))
    (usleep 100000)
    (test-assert "what it left in its group is killed"
      (not (any running? (read-pids pids))))))

(test-group "spawn failures"
  (let* ((missing (string-append tmp "/instar-no-such-tool"))
         (r (run-command (list missing))))
    (test-eq "missing: spawn-failed" 'spawn-failed (result-class r))
    (test-assert "the message names the program and the errno"
      (and (string-contains (result-stderr r) missing)
           (string-contains (result-stderr r) "No such file"))))
  (let ((r (run-command (list (write-script "noexec" "#!/nonexistent/interpreter\n")))))
    (test-eq "an exec failure is spawn-failed, not status 127" 'spawn-failed
      (result-class r))))

;; Last: an abort cannot be withdrawn.
(test-group "abort"
  (let ((d (make-private-directory tmp "case.")))
    (test-equal "no abort requested yet" #f (abort-requested))
    (request-abort! 'test)
    (test-eq "abort-requested says why" 'test (abort-requested))
    (test-eq "run-command throws instar-abort"
      'instar-abort
      (catch #t (lambda () (run-command '("true") #:scratch d) 'returned)
        (lambda (key . args) key)))
    (test-assert "abort-key?" (abort-key? 'instar-abort))
    (test-equal "the capture files are gone" '()
      (filter (lambda (f) (not (member f '("." "..")))) (or (scandir d) (list))))
    (abort-cleanup!)
    (test-assert "abort-cleanup! removes the private directories" (not (file-exists? d)))))

(test-end "process")
(delete-tree tmp)
