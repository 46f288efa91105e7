;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; test-whitelist.scm -- (instar whitelist): rules as data, conditions,
;;; what a rule explains, hit counts and never-matched rules.
(use-modules (srfi srfi-64) (srfi srfi-1) (instar whitelist) (instar pickers))

(define (diff oracle field)
  `(("op" . "resize-2") ("oracle" . ,oracle) ("field" . ,field)
    ("engine" . "differ") ("reference" . "same")))

(define (regrow-case cluster-size shrink-spec pattern-offset)
  `(("op" . "regrow") ("format" . "qcow2") ("start-mode" . "shared") ("size" . "16M")
    ("options" . (("cluster_size" . ,cluster-size)))
    ("create-prealloc" . "off")
    ("patterns" . #((("offset" . 0) ("length" . 65536) ("byte" . 1))
                    (("offset" . ,pattern-offset) ("length" . 65536) ("byte" . 2))))
    ("resizes" . #((("spec" . ,shrink-spec) ("shrink" . #t) ("prealloc" . null))
                   (("spec" . "16M") ("shrink" . #f) ("prealloc" . null))))))

(define stale (car default-rules))

(test-begin "whitelist")

(test-group "the shipped rules"
  (test-assert "every rule has an id, a reason, a reference and what it explains"
    (and (pair? default-rules)
         (every (lambda (r) (and (string? (assoc-ref r "id")) (string? (assoc-ref r "reason"))
                                 (string? (assoc-ref r "reference"))
                                 (pair? (assoc-ref r "explains"))))
                default-rules)))
  (test-equal "stale tail rule" "qcow2-stale-tail-after-unaligned-shrink" (rule-id stale)))

(test-group "conditions"
  ;; 2M clusters, shrink by 1M to 15M: the kept cluster [14M,16M) holds
  ;; the pattern at 15.5M, which qemu shows again after the regrow.
  (let ((c (regrow-case "2097152" "-1M" (* 31 512 1024))))
    (test-assert "unaligned shrink with data in the cut tail" (case-holds? (assoc-ref stale "when") c)))
  (test-assert "cluster-aligned shrink: no"
    (not (case-holds? (assoc-ref stale "when") (regrow-case "65536" "-1M" (* 31 512 1024)))))
  (test-assert "no pattern in the cut tail: no"
    (not (case-holds? (assoc-ref stale "when") (regrow-case "2097152" "-1M" (* 4 1024 1024)))))
  (test-assert "raw: no"
    (not (case-holds? '(format "qcow2")
                      (cons '("format" . "raw") (regrow-case "2097152" "-1M" 0)))))
  (test-assert "option condition"
    (case-holds? '(option "cluster_size" "2097152") (regrow-case "2097152" "-1M" 0)))
  (test-assert "or / not"
    (case-holds? '(or (format "raw") (not (op "resize"))) (regrow-case "2097152" "-1M" 0))))

(test-group "applying"
  (let ((c (regrow-case "2097152" "-1M" (* 31 512 1024))))
    (call-with-values (lambda () (apply-whitelist default-rules c (list (diff "data" "compare"))))
      (lambda (left hits)
        (test-equal "data difference explained" '() left)
        (test-equal "by the stale tail rule" (list (rule-id stale)) hits)))
    (call-with-values (lambda () (apply-whitelist default-rules c (list (diff "data" "compare")
                                                                        (diff "info" "virtual-size"))))
      (lambda (left hits)
        (test-equal "anything else stays unexplained" 1 (length left))
        (test-equal "the unexplained diff" "virtual-size" (assoc-ref (car left) "field")))))
  (call-with-values (lambda () (apply-whitelist default-rules (regrow-case "65536" "-1M" 0)
                                                (list (diff "data" "compare"))))
    (lambda (left hits)
      (test-equal "rule off when its condition fails" 1 (length left))
      (test-equal "no hit" '() hits)))
  (let ((rules '((("id" . "p") ("reason" . "r") ("reference" . "x") ("when" . (always))
                  ("explains" . ("info:format-specific.*"))))))
    (call-with-values (lambda () (apply-whitelist rules '() (list (diff "info" "format-specific.data.compat"))))
      (lambda (left hits) (test-equal "prefix pattern" '() left)))))

(test-group "counting"
  (let ((counter (make-rule-counter default-rules)))
    (test-equal "never matched at first" (map rule-id default-rules) (never-matched counter))
    (count-rule-hits! counter (list (rule-id stale)))
    (count-rule-hits! counter (list (rule-id stale)))
    (test-equal "hits counted" 2 (assoc-ref (rule-counts counter) (rule-id stale)))
    (test-assert "then not reported as never matched"
      (not (member (rule-id stale) (never-matched counter))))
    (test-equal "the others still are" (cdr (map rule-id default-rules)) (never-matched counter))))

(test-group "refusal rules"
  (define (refusal family expect)
    `(("op" . "resize") ("oracle" . "refusal") ("field" . ,family)
      ("engine" . "refused") ("reference" . ,expect)))
  (define plain-case
    '(("op" . "resize") ("format" . "qcow2") ("start-mode" . "own") ("size" . "16M")
      ("options" . ()) ("patterns" . #())
      ("resizes" . #((("spec" . "8M") ("shrink" . #f) ("family" . "shrink-without-flag")
                      ("expect" . "refuse"))))))
  (test-assert "a family's refusal is expected"
    (call-with-values
        (lambda () (apply-whitelist default-rules plain-case
                                    (list (refusal "shrink-without-flag" "refuse"))))
      (lambda (left hits) (and (null? left) (equal? hits '("refuses-shrink-without-flag"))))))
  (test-assert "a refusal of a supported case is a finding"
    (call-with-values
        (lambda () (apply-whitelist default-rules plain-case (list (refusal "supported" "ok"))))
      (lambda (left hits) (and (= 1 (length left)) (null? hits)))))
  (test-assert "so is one of a supported family (same size)"
    (call-with-values
        (lambda () (apply-whitelist default-rules plain-case (list (refusal "same-size" "ok"))))
      (lambda (left hits) (= 1 (length left)))))
  (test-assert "every refusal family of the pickers has a rule"
    (every (lambda (f) (any (lambda (r) (member (string-append "refusal:" f) (assoc-ref r "explains")))
                            default-rules))
           (filter (lambda (f) (not (equal? f "dirty"))) refusal-families)))
  (test-assert "dirty: only qemu-img's acceptance is excused, and only for dirty images"
    (let ((d '(("op" . "resize") ("oracle" . "exit-class") ("field" . "resize")
               ("engine" . "error") ("reference" . "ok"))))
      (and (call-with-values
               (lambda () (apply-whitelist default-rules plain-case (list d)))
             (lambda (left hits) (= 1 (length left))))
           (call-with-values
               (lambda () (apply-whitelist default-rules
                                           (cons '("resizes" . #((("spec" . "32M") ("family" . "dirty"))))
                                                 (alist-delete "resizes" plain-case))
                                           (list d)))
             (lambda (left hits) (and (null? left) (equal? hits '("qcow2-dirty-refused")))))))))

(test-end "whitelist")
