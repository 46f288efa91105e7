;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar core) -- the C core of instar-fuzz, from Scheme.
;;;
;;; Loads the compiled extension libguile-instar (from %instar-extension-dir,
;;; which INSTAR_EXTENSION_DIR overrides for the build tree) and adds the
;;; Scheme side of its contract: patch and violation records, hand-made
;;; plans, the instar-error condition accessors and documentation strings.
;;;
;;; Errors: the core's refusals raise (throw 'instar-error 'NAME "message"
;;; . DETAILS) with NAME the core's error symbol (shrink-needs-flag,
;;; not-staged, io-error, ...) and DETAILS an alist ((errno . N),
;;; (needs (kind index length) ...)) or a list holding the offending input.
;;; Wrong argument types and out-of-range numbers raise Guile's standard
;;; wrong-type-arg and out-of-range errors instead.

(define-module (instar core)
  #:use-module (instar config)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  ;; Only for the printer of plans (write is a generic once GOOPS loads).
  #:use-module ((oop goops) #:select (define-method))
  #:export (;; planners
            plan-resize-raw plan-resize-qcow2 plan-resize-vhd
            plan-resize-vhdx plan-resize-vmdk
            ;; plans
            <plan> plan? plan-action plan-format plan-prealloc plan-total-file-size
            plan-new-virtual-size plan-old-virtual-size plan-prealloc-range
            plan-patch-count plan-patches plan-check make-plan
            ;; patches and violations
            make-patch patch? patch-kind patch-offset patch-length patch-payload
            violation? violation-invariant violation-patches violation-message
            ;; files
            image-create image-probe image-plan image-resize image-apply-plan
            ;; sizes, hashes, fuzz inputs
            parse-size parse-size-spec xxh3-64 xxh3-128 fuzz-decode
            ;; children (for (instar process))
            spawn-process-group
            ;; errors
            instar-error? instar-error-name instar-error-message
            instar-error-details))

(eval-when (expand load eval)
  (load-extension (string-append %instar-extension-dir "/libguile-instar")
                  "init_instar"))

;;; Records built from the extension's vectors.

(define-record-type <patch>
  (make-patch kind offset length payload)
  patch?
  (kind patch-kind)
  (offset patch-offset)
  (length patch-length)
  (payload patch-payload))

(define-record-type <violation>
  (make-violation invariant patches message)
  violation?
  (invariant violation-invariant)
  (patches violation-patches)
  (message violation-message))

(define (plan-patches plan)
  "The patches of PLAN in application order (prepare, commit, cleanup): a
list of patch records with kind (write append zero-fill), offset, length and
payload (a fresh bytevector, or #f for zero-fill)."
  (map (match-lambda (#(kind offset length payload)
                      (make-patch kind offset length payload)))
       (%plan-patches plan)))

(define (plan-check plan)
  "Check PLAN against the four plan invariants (1: at most 128 patches,
2: offset + length fits in 64 bits, 3: nothing ends beyond the final file
size, 4: no two write patches overlap).  A list of violation records
(invariant number, offending patch indices, message); empty when valid."
  (map (match-lambda (#(inv idx msg) (make-violation inv idx msg)))
       (%plan-check plan)))

(define (make-plan . args)
  "Make a plan by hand (for checker and printer tests): keywords #:format,
#:action (grow shrink noop), #:old-virtual-size, #:new-virtual-size,
#:total-file-size, #:prealloc-range (offset . length), #:prealloc (the
mode, default off) and #:patches, a list
of patch records (make-patch KIND OFFSET LENGTH PAYLOAD).  A write patch's
payload may be #f; when given its length must equal LENGTH."
  (define (patch->vector p)
    (if (patch? p)
        (vector (patch-kind p) (patch-offset p) (patch-length p) (patch-payload p))
        (scm-error 'wrong-type-arg "make-plan"
                   "Wrong type argument (expecting patch record for #:patches): ~S"
                   (list p) (list p))))
  (let loop ((rest args) (out '()))
    (match rest
      (() (apply %make-plan (reverse out)))
      ((#:patches (? list? ps) . more)
       (loop more (cons* (map patch->vector ps) #:patches out)))
      ((x . more) (loop more (cons x out))))))

;;; Printing: #<plan qcow2 grow 1G→2G 7 patches>.

(define (size-text n)
  "N bytes with the largest binary suffix that divides it exactly."
  (let loop ((sfx '((60 . "E") (50 . "P") (40 . "T") (30 . "G") (20 . "M") (10 . "K"))))
    (cond ((or (null? sfx) (zero? n)) (number->string n))
          ((zero? (logand n (- (ash 1 (caar sfx)) 1)))
           (string-append (number->string (ash n (- (caar sfx)))) (cdar sfx)))
          (else (loop (cdr sfx))))))

(define-method (write (plan <plan>) port)
  (format port "#<plan ~a ~a ~a→~a ~a patch~a>"
          (or (plan-format plan) "hand-made") (plan-action plan)
          (size-text (plan-old-virtual-size plan)) (size-text (plan-new-virtual-size plan))
          (plan-patch-count plan) (if (= 1 (plan-patch-count plan)) "" "es")))

;;; The instar-error condition, as seen through guard / with-exception-handler
;;; (catch handlers get the key and the list (NAME MESSAGE . DETAILS)).

(define (instar-error? obj)
  "True when OBJ is an exception raised by the core (key instar-error)."
  (and (exception? obj)
       (false-if-exception (eq? (exception-kind obj) 'instar-error))))

(define (instar-error-name exn)
  "The core's error symbol of EXN, e.g. shrink-needs-flag."
  (car (exception-args exn)))

(define (instar-error-message exn)
  "The human message of EXN."
  (cadr (exception-args exn)))

(define (instar-error-details exn)
  "The details of EXN: an alist such as ((errno . 2)) or ((needs ...)), or the
offending input."
  (cddr (exception-args exn)))

(set-exception-printer!
 'instar-error
 (lambda (port key args default-printer)
   (match args
     ((name message . details)
      (format port "instar error (~a): ~a" name message)
      (unless (null? details)
        (format port " ~s" details)))
     (_ (default-printer)))))

;;; Documentation.  Each primitive carries its own, from its SCM_DEFINE
;;; in core/guile/*.c (registered when the extension loads); the record
;;; procedures below get theirs here.

(define-syntax-rule (document! (proc doc) ...)
  (begin (set-procedure-property! proc 'documentation doc) ...))

(document!
 (make-patch "(make-patch KIND OFFSET LENGTH PAYLOAD) -- a patch record (for make-plan).")
 (patch? "(patch? OBJ) -- true when OBJ is a patch record.")
 (patch-kind "(patch-kind PATCH) -- write, append or zero-fill.")
 (patch-offset "(patch-offset PATCH) -- the file offset the patch starts at.")
 (patch-length "(patch-length PATCH) -- the number of bytes the patch covers.")
 (patch-payload "(patch-payload PATCH) -- the bytes written (a bytevector), or #f.")
 (violation? "(violation? OBJ) -- true when OBJ is a violation record.")
 (violation-invariant "(violation-invariant V) -- the broken invariant, 1 to 4.")
 (violation-patches "(violation-patches V) -- the indices of the offending patches.")
 (violation-message "(violation-message V) -- a one-line description."))
