;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-report.scm -- (instar report) and (instar process): JUnit XML,
;;; plain progress lines, and child processes with timeouts.
(use-modules (srfi srfi-64) (ice-9 textual-ports) (instar report) (instar process))

(define tmp (make-private-directory (or (getenv "TMPDIR") "/tmp") "instar-report-test."))

(test-begin "report")

(test-group "junit"
  (test-equal "escaping" "a&lt;b&gt;&amp;&quot;" (xml-escape "a<b>&\""))
  (let ((file (string-append tmp "/j.xml")))
    (write-junit file "resize-diff"
                 '(("42:0 resize raw" match "")
                   ("42:1 resize qcow2" divergence "finding <x>")
                   ("42:2 regrow qcow2" inconclusive "timeout"))
                 1.5)
    (let ((xml (call-with-input-file file get-string-all)))
      (test-assert "counts" (string-contains xml "tests=\"3\" failures=\"1\" skipped=\"1\""))
      (test-assert "a failure per divergence" (string-contains xml "<failure message=\"finding &lt;x&gt;\"/>"))
      (test-assert "a skip per inconclusive" (string-contains xml "<skipped message=\"timeout\"/>")))))

(test-group "progress"
  (let* ((file (string-append tmp "/p.txt"))
         (port (open-output-file file))
         (p (make-progress "t" 20 #:port port)))
    (for-each (lambda (i) (progress-update! p i 0)) (iota 21))
    (close-port port)
    (let ((lines (string-split (string-trim-right (call-with-input-file file get-string-all))
                               #\newline)))
      (test-assert "plain lines off a terminal, about one per tenth" (<= 5 (length lines) 11))
      (test-assert "the last says all done" (string-prefix? "t: 20/20 done" (car (last-pair lines)))))))

(test-group "processes"
  (let ((r (run-command '("sh" "-c" "echo out; echo err >&2; exit 3") #:timeout 10)))
    (test-eq "error class" 'error (result-class r))
    (test-equal "status" 3 (result-status r))
    (test-equal "stdout" "out\n" (result-stdout r))
    (test-equal "stderr" "err\n" (result-stderr r)))
  (test-eq "ok" 'ok (result-class (run-command '("true"))))
  (let ((r (run-command '("sleep" "5") #:timeout 1)))
    (test-eq "killed after the timeout" 'timeout (result-class r))
    (test-assert "promptly" (< (result-seconds r) 3)))
  (test-eq "a program that does not exist" 'spawn-failed
    (result-class (run-command '("/nonexistent/instar-no-such-tool"))))
  (test-eq "killed by a signal" 'signal
    (result-class (run-command '("sh" "-c" "kill -9 $$")))))

(test-end "report")
(delete-tree tmp)
